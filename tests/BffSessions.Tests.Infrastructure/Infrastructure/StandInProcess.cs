using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// The Stripe stand-in's program (the compose service's and the benchmark's), run as a process of its own on a port
/// the system picks: it says which in its "listening on" line, and its health answer names its pid, so this is
/// known to be the process started here.
/// </summary>
public sealed class StandInProcess : IAsyncDisposable
{
    private readonly Process _process;

    private StandInProcess(Process process, Uri address)
    {
        _process = process;
        BaseAddress = address;
        Control = new HttpClient { BaseAddress = address };
    }

    public Uri BaseAddress { get; }

    /// <summary>A client for its control API (<c>/__standin/…</c>).</summary>
    public HttpClient Control { get; }

    public static async Task<StandInProcess> StartAsync(IReadOnlyDictionary<string, string?> environment)
    {
        var program = Path.Combine(AppContext.BaseDirectory, "BffSessions.StripeStandIn.dll");
        var start = DotnetCommand.StartInfo([program, "--urls", "http://127.0.0.1:0"], environment);
        var process = Process.Start(start) ?? throw new InvalidOperationException("The stand-in did not start.");
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data?.StartsWith("listening on ", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult(new Uri(line.Data["listening on ".Length..]));
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        StandInProcess? standIn = null;
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            standIn = new StandInProcess(process, address);
            var health = await standIn.Control.GetFromJsonAsync<JsonElement>("/__standin/health");
            Assert.Equal(process.Id, health.GetProperty("pid").GetInt32());
            return standIn;
        }
        catch
        {
            if (standIn is not null)
            {
                await standIn.DisposeAsync();
            }
            else
            {
                process.Kill(entireProcessTree: true);
                process.Dispose();
            }

            throw;
        }
    }

    /// <summary>The requests it recorded to <paramref name="path"/>: method, form, status.</summary>
    public async Task<List<JsonElement>> RequestsToAsync(string path) =>
        (await Control.GetFromJsonAsync<JsonElement>("/__standin/requests?path=" + Uri.EscapeDataString(path))).EnumerateArray().ToList();

    public async ValueTask DisposeAsync()
    {
        Control.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
