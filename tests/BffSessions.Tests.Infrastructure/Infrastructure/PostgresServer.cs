using System.Diagnostics;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server for one test class: initdb into a temp directory, pg_ctl start on a free loopback
/// port, removed afterwards. Uses the machine's PostgreSQL binaries (Debian: /usr/lib/postgresql/N/bin); as root,
/// the server runs as the postgres user, since PostgreSQL refuses to run as root. Plain `dotnet test` without the
/// binaries skips these tests with a message; under CI (CI=true) they fail instead.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _directory;

    private PostgresServer(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public static string? BinDirectory { get; } = FindBinDirectory();

    public static void Require()
    {
        if (BinDirectory is not null)
        {
            return;
        }

        const string message = "PostgreSQL tests need the PostgreSQL server binaries (initdb, pg_ctl: apt-get install postgresql). .ci/run installs them.";
        if (RunsInCi.Now)
        {
            throw new InvalidOperationException(message);
        }

        Skip.If(true, message);
    }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Command Timeout=10;Maximum Pool Size=50";

    public static async Task<PostgresServer> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("bffsessions-pg-").FullName;
        var server = new PostgresServer(BinDirectory!, directory, StandInTest.FreePort());
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "-R", "postgres:postgres", directory);
        }

        await server.RunAsPostgresAsync("initdb", "-D", server.Data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8");
        await server.StartServerAsync();
        return server;
    }

    private string Data => Path.Combine(_directory, "data");

    /// <summary>Starts (or restarts) the server and waits until it accepts connections.</summary>
    public Task StartServerAsync() => RunAsPostgresAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "30",
        "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {_directory} -c fsync=off -c max_connections=200", "start");

    public string Log => File.Exists(Path.Combine(_directory, "server.log")) ? File.ReadAllText(Path.Combine(_directory, "server.log")) : "";

    /// <summary>Stops the server at once, as an outage would: open connections are cut.</summary>
    public Task StopServerAsync() => RunAsPostgresAsync("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop");

    /// <summary>
    /// Freezes the server and its backends (SIGSTOP), as a hung host would: connections stay open and new ones are
    /// accepted by the kernel, but nothing answers.
    /// </summary>
    public Task PauseServerAsync() => SignalServerAsync("STOP");

    /// <summary>Lets a paused server go on (SIGCONT); a test that pauses resumes in a finally, since a paused server does not stop.</summary>
    public Task ResumeServerAsync() => SignalServerAsync("CONT");

    private Task SignalServerAsync(string signal)
    {
        var postmaster = File.ReadLines(Path.Combine(Data, "postmaster.pid")).First().Trim();
        // The postmaster's children (backends, background workers), from /proc/<pid>/stat: "pid (name) state ppid …".
        var children = Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name!.All(char.IsAsciiDigit))
            .Where(pid =>
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine("/proc", pid!, "stat"));
                    return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1] == postmaster;
                }
                catch (IOException)
                {
                    return false; // gone meanwhile
                }
            });
        return RunAsync("kill", ["-" + signal, postmaster, .. children!]);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopServerAsync();
        }
        catch (InvalidOperationException)
        {
            // Already stopped by the test.
        }

        Directory.Delete(_directory, recursive: true);
    }

    private Task RunAsPostgresAsync(string program, params string[] arguments) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, program), .. arguments])
            : RunAsync(Path.Combine(_bin, program), arguments);

    private static async Task RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {await output}{await error}");
        }
    }

    private static string? FindBinDirectory()
    {
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(Path.Combine(configured, "initdb")) ? configured : null;
        }

        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(version => Path.Combine(version, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
                .OrderByDescending(bin => bin, StringComparer.Ordinal)
                .FirstOrDefault()
            : null;
    }

}
