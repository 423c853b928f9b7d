using System.Diagnostics;
using System.Text.RegularExpressions;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// The service as its own process (`dotnet BffSessions.Api.dll`, as the container runs it), configured only by
/// environment variables. It binds a port the system picks (port 0) and says which in its "Now listening on" line,
/// so the address it is reached at is known to be this process's, never another's left on a port.
/// </summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly List<string> _errors = [];
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Its standard output so far, line by line.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToList();
            }
        }
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return string.Join('\n', _errors);
            }
        }
    }

    /// <summary>
    /// Starts it with <paramref name="environment"/> (inherited ASPNETCORE_* and DOTNET_ENVIRONMENT removed), from
    /// <paramref name="workingDirectory"/> (the binaries' own by default), with <paramref name="arguments"/>.
    /// </summary>
    public static ServiceProcess Start(IReadOnlyDictionary<string, string> environment, string? workingDirectory = null, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "BffSessions.Api.dll"), .. arguments])
        {
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var inherited in new[] { "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS" })
        {
            start.Environment.Remove(inherited);
        }

        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var service = new ServiceProcess(Process.Start(start)!);
        service._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (service._output)
            {
                service._output.Add(e.Data);
            }

            if (e.Data.Contains("Now listening on", StringComparison.Ordinal) && Address().Match(e.Data) is { Success: true } address)
            {
                service._listening.TrySetResult(new Uri(address.Value));
            }
        };
        service._process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (service._errors)
                {
                    service._errors.Add(e.Data);
                }
            }
        };
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        return service;
    }

    /// <summary>The address it listens on, once it says so; it must not exit first.</summary>
    public async Task<Uri> ListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(_listening.Task, exited, Task.Delay(timeout));
        if (first != _listening.Task)
        {
            throw new InvalidOperationException(_process.HasExited
                ? $"The service exited with code {_process.ExitCode} before listening: {Errors} {string.Join('\n', Output.TakeLast(20))}"
                : $"The service did not listen within {timeout}: {string.Join('\n', Output.TakeLast(20))}");
        }

        return await _listening.Task;
    }

    /// <summary>Waits for /health/ready to answer 200 at its own address.</summary>
    public async Task<Uri> ReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var address = await ListeningAsync(timeout);
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            using var ready = await http.GetAsync("/health/ready");
            if (ready.IsSuccessStatusCode)
            {
                return address;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"The service at {address} was not ready within {timeout} (exited: {_process.HasExited}).");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        await _process.WaitForExitAsync(CancellationToken.None); // the output is read to its end
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"https?://[0-9.\[\]:a-z]+:\d+")]
    private static partial Regex Address();
}
