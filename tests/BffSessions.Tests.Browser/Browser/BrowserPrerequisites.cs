namespace BffSessions.Tests.Browser;

/// <summary>
/// What the real-browser tests need beyond the .NET SDK: Debian's Chromium, Node.js, and the test OpenID Connect
/// provider's npm packages. Plain `dotnet test` skips the tests with a message naming what is missing; under CI
/// (CI=true, set by .ci/run's runner) a missing piece fails them instead, so they cannot silently stop running.
/// </summary>
public static class BrowserPrerequisites
{
    /// <summary>The xunit collection of the real-browser tests: they run one after another, never side by side.</summary>
    public const string Collection = "Real browser";

    public static string ChromiumPath => Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string OidcProviderDirectory => Path.Combine(RepositoryRoot, "tools", "oidc-provider");

    public static string? NodePath { get; } = FindOnPath("node");

    /// <summary>oidc-provider 9 (tools/oidc-provider/package.json's engines) needs Node.js 20 or later.</summary>
    private const int MinimumNodeMajor = 20;

    public static IReadOnlyList<string> Missing()
    {
        var missing = new List<string>();
        if (!File.Exists(ChromiumPath))
        {
            missing.Add($"Chromium at {ChromiumPath} (apt-get install chromium)");
        }

        if (NodePath is null)
        {
            missing.Add($"Node.js {MinimumNodeMajor} or later on PATH (https://nodejs.org, or NodeSource's apt repository; Debian 12's own nodejs is 18)");
        }
        else if (NodeMajorVersion() is var major && major < MinimumNodeMajor)
        {
            missing.Add($"Node.js {MinimumNodeMajor} or later, found {(major < 0 ? "a node that does not say its version" : $"Node.js {major}")} at {NodePath} "
                + "(install 20 or later from https://nodejs.org, or NodeSource's apt repository; Debian 12's own nodejs is 18)");
        }

        if (!Directory.Exists(Path.Combine(OidcProviderDirectory, "node_modules", "oidc-provider")))
        {
            missing.Add("the test OpenID Connect provider's packages (from the repository root: npm ci --prefix tools/oidc-provider)");
        }

        return missing;
    }

    /// <summary>Skips (locally) or fails (in CI) when something is missing.</summary>
    public static void Require()
    {
        var missing = Missing();
        if (missing.Count == 0)
        {
            return;
        }

        var message = "Real-browser tests need " + string.Join("; ", missing) + ". .ci/run installs them.";
        if (Infrastructure.RunsInCi.Now)
        {
            throw new InvalidOperationException(message);
        }

        Skip.If(true, message);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "BffSessions.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("BffSessions.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The major version `node --version` prints (v20.19.2 → 20), or -1 when it says nothing usable.</summary>
    private static int NodeMajorVersion()
    {
        using var node = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(NodePath!, "--version")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var version = node.StandardOutput.ReadToEnd().Trim();
        node.WaitForExit();
        return int.TryParse(version.TrimStart('v').Split('.')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major)
            ? major
            : -1;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
