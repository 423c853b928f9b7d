using System.Diagnostics;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Runs the dotnet CLI as a newcomer would, from the repository root, and collects what it printed. MSBuild node
/// reuse, the MSBuild server and the shared compiler are off, so no build process outlives the command and takes CPU
/// from the timing tests that run after it.
/// </summary>
public static class DotnetCommand
{
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        using var process = Process.Start(StartInfo(arguments, environment))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish in time. {await errors}");
        }

        return (process.ExitCode, await output, await errors);
    }

    /// <summary>dotnet with <paramref name="arguments"/>, output redirected; a null value removes a variable.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
            Environment =
            {
                ["MSBUILDDISABLENODEREUSE"] = "1",
                ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
                ["UseSharedCompilation"] = "false",
                ["DOTNET_NOLOGO"] = "1",
            },
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        return start;
    }
}
