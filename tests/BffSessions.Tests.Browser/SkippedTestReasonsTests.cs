using System.Reflection;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// dotnet test's default output shows a skip without its reason, so the test projects whose tests need something
/// installed (browser, PostgreSQL) warn before the run about each missing prerequisite, with the command that installs
/// it (from the repository root).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // a shell script stands in for node
[Collection(RunsAlone.Name)] // an MSBuild process: CPU that the timing tests must not share
public sealed class SkippedTestReasonsTests
{
    /// <summary>The configuration these tests were built in (Debug, or what -c said): the no-build runs below use the same build.</summary>
    private static readonly string Configuration =
        typeof(SkippedTestReasonsTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    [Fact]
    public async Task Each_missing_prerequisite_is_a_warning_before_the_run_naming_what_to_install()
    {
        var fakeNode = Directory.CreateTempSubdirectory("bffsessions-old-node-").FullName;
        var noProvider = Directory.CreateTempSubdirectory("bffsessions-no-provider-").FullName;
        try
        {
            var node = Path.Combine(fakeNode, "node");
            await File.WriteAllTextAsync(node, "#!/bin/sh\necho v18.19.0\n");
            File.SetUnixFileMode(node, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var (exitCode, output, errors) = await DotnetCommand.RunAsync(
                // dotnet test itself, on the solution as the README runs it (no test matches the filter): the warnings must
                // come with the run, from the projects whose tests would skip, not only from the target.
                ["test", Repository.PathOf("BffSessions.sln"), "--no-build", "-c", Configuration, "--filter", "FullyQualifiedName=None.Matches.This",
                    $"-p:OidcProviderFolder={noProvider}"],
                new Dictionary<string, string?>
                {
                    ["CHROMIUM_PATH"] = "/nonexistent/chromium",
                    ["PG_BIN"] = "/nonexistent/postgresql/bin",
                    ["CI"] = "",
                    ["PATH"] = fakeNode + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                });
            var text = output + errors;

            Assert.True(exitCode == 0, text);
            Assert.Contains("warning BFFTEST1: The real-browser tests will be skipped: no Chromium at /nonexistent/chromium. Install it: sudo apt-get install chromium", text, StringComparison.Ordinal);
            Assert.Contains("warning BFFTEST2: The real-browser tests will be skipped: they need Node.js 20 or later, and node is v18.19.0.", text, StringComparison.Ordinal);
            Assert.Contains("warning BFFTEST4: The PostgreSQL tests will be skipped", text, StringComparison.Ordinal);
            Assert.Contains("sudo apt-get install postgresql", text, StringComparison.Ordinal);
            Assert.Contains("warning BFFTEST3: The real-browser tests will be skipped: the test OpenID Connect provider's packages are missing. "
                + "From the repository root: npm ci --prefix tools/oidc-provider", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(fakeNode, recursive: true);
            Directory.Delete(noProvider, recursive: true);
        }
    }

    /// <summary>A runner that sets CI=1 (not "true") still gets a failure, not a green run without the test.</summary>
    [Theory]
    [InlineData("1")]
    [InlineData("yes")]
    public async Task Under_any_CI_value_a_missing_prerequisite_fails_the_test_instead_of_skipping_it(string ci)
    {
        var (exitCode, output, errors) = await DotnetCommand.RunAsync(
            ["test", Repository.PathOf("tests", "BffSessions.Tests.Postgres", "BffSessions.Tests.Postgres.csproj"), "--no-build", "-c", Configuration,
                "--filter", "FullyQualifiedName~MigrationTests.The_migrate_command_says_in_one_line_why_it_failed_and_exits_1"],
            new Dictionary<string, string?> { ["PG_BIN"] = "/nonexistent/postgresql/bin", ["CI"] = ci });
        var text = output + errors;

        Assert.True(exitCode != 0, text);
        Assert.Matches(@"Failed: +1", text);
        Assert.Matches(@"Skipped: +0", text);
        Assert.Contains("PostgreSQL tests need the PostgreSQL server binaries", text, StringComparison.Ordinal);
    }
}
