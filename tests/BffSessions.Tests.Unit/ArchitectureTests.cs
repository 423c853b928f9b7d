using System.Text.RegularExpressions;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// The feature folders import each other in one direction only (docs/architecture.md, "Layout"). Hosting is a project
/// of its own, so the compiler keeps it from importing any feature; this keeps the arrows between the features.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>Besides these, every feature may use Data (the context, the providers) and the Hosting project; Data uses no feature.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["CustomerSessions"] = ["Customers", "Payments", "Identity"],
        ["Customers"] = ["Payments"],
        ["Data"] = [],
        ["Identity"] = [],
        ["Payments"] = [],
        ["Demo"] = ["Payments"],
        ["Webhooks"] = ["Customers", "Payments"],
    };

    [Fact]
    public void Each_feature_folder_imports_only_the_folders_below_it()
    {
        var api = Repository.PathOf("src", "BffSessions.Api");
        var found = new List<string>();
        foreach (var (folder, allowed) in Allowed)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(api, folder), "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Migrations{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
            {
                var text = File.ReadAllText(file);
                // Fully qualified ("BffSessions.Api.Customers.…", usings included) or relative to our own namespace
                // ("Customers.CustomerCache" inside BffSessions.Api.Payments compiles too).
                var imported = FeatureReference().Matches(text).Concat(RelativeFeatureReference().Matches(text))
                    .Select(m => m.Groups["feature"].Value)
                    .Where(Allowed.ContainsKey)
                    .Distinct(StringComparer.Ordinal);
                found.AddRange(imported.Where(f => f != folder && f != "Data" && !allowed.Contains(f)).Select(f => $"{Path.GetRelativePath(api, file)} uses {f}"));
            }
        }

        Assert.Empty(found);
    }

    /// <summary>Stripe.net's types (namespace Stripe and below) stay in Payments: the rest of the service speaks its own.</summary>
    [Fact]
    public void Only_Payments_uses_Stripe_net()
    {
        var payments = Repository.PathOf("src", "BffSessions.Api", "Payments") + Path.DirectorySeparatorChar;
        var found = Directory.EnumerateFiles(Repository.PathOf("src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(payments, StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadLines(f).Any(line => StripeNetReference().IsMatch(line)))
            .Select(f => Path.GetRelativePath(Repository.PathOf("src"), f));

        Assert.Empty(found);
    }

    [Fact]
    public void No_global_using_brings_a_feature_into_every_file()
    {
        var globalUsings = Directory.EnumerateFiles(Repository.PathOf("src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadLines(f).Any(line => line.TrimStart().StartsWith("global using BffSessions", StringComparison.Ordinal)));

        Assert.Empty(globalUsings);
    }

    [Fact]
    public void Every_feature_folder_is_listed_here()
    {
        var folders = Directory.EnumerateDirectories(Repository.PathOf("src", "BffSessions.Api"))
            .Select(Path.GetFileName)
            .Where(name => Directory.EnumerateFiles(Repository.PathOf("src", "BffSessions.Api", name!), "*.cs").Any());

        Assert.Equal(Allowed.Keys.Order(StringComparer.Ordinal), folders.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Hosting_references_no_project_of_this_repository()
    {
        var project = File.ReadAllText(Repository.PathOf("src", "BffSessions.Hosting", "BffSessions.Hosting.csproj"));

        Assert.DoesNotContain("ProjectReference", project, StringComparison.Ordinal);
    }

    /// <summary>A using of Stripe.net's namespaces, or a name qualified with one (Stripe.EventTypes, global::Stripe.Customer).</summary>
    [GeneratedRegex(@"^\s*(global\s+)?using\s+(static\s+)?(\w+\s*=\s*)?(global::)?Stripe\b|(?<![\w.])(global::)?Stripe\.[A-Z]")]
    private static partial Regex StripeNetReference();

    [GeneratedRegex(@"\bBffSessions\.Api\.(?<feature>[A-Z][A-Za-z]+)\b")]
    private static partial Regex FeatureReference();

    [GeneratedRegex(@"(?<![\w.])(?<feature>[A-Z][A-Za-z]+)\.[A-Z]")]
    private static partial Regex RelativeFeatureReference();
}
