using System.Diagnostics;

namespace BffSessions.Tests.Browser;

/// <summary>The test OpenID Connect provider (tools/oidc-provider/server.mjs, oidc-provider from npm) as a child process on loopback.</summary>
public sealed class OidcProviderProcess : IAsyncDisposable
{
    public const string ClientId = "bffsessions-browser-tests";
    public const string ClientSecret = "browser-tests-client-secret";

    private readonly Process _process;
    private readonly List<string> _errors = [];

    private OidcProviderProcess(Process process, Uri issuer)
    {
        _process = process;
        Issuer = issuer;
    }

    public Uri Issuer { get; }

    public static Task<OidcProviderProcess> StartAsync(int port, Uri application) => StartAsync(new Dictionary<string, string>
    {
        ["OIDC_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["OIDC_CLIENT_ID"] = ClientId,
        ["OIDC_CLIENT_SECRET"] = ClientSecret,
        ["OIDC_REDIRECT_URI"] = new Uri(application, "/signin-oidc").ToString(),
        ["OIDC_POST_LOGOUT_REDIRECT_URI"] = new Uri(application, "/signout-callback-oidc").ToString(),
        ["OIDC_BACKCHANNEL_LOGOUT_URI"] = new Uri(application, "/bff/backchannel").ToString(),
        ["OIDC_ACCOUNT_CLAIMS"] = Infrastructure.HostileClaims.ProviderClaims(),
    });

    /// <summary>The provider with the given OIDC_* environment (tools/oidc-provider/README.md); its issuer is http://localhost:OIDC_PORT.</summary>
    public static async Task<OidcProviderProcess> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(BrowserPrerequisites.NodePath!, "server.mjs")
        {
            WorkingDirectory = BrowserPrerequisites.OidcProviderDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var provider = new OidcProviderProcess(process, new Uri($"http://localhost:{environment["OIDC_PORT"]}"));
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data?.StartsWith("READY ", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                lock (provider._errors)
                {
                    provider._errors.Add(line.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(90))) != ready.Task)
        {
            await provider.DisposeAsync();
            throw new InvalidOperationException("The test OpenID Connect provider did not start: " + provider.Errors);
        }

        return provider;
    }

    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return string.Join(Environment.NewLine, _errors);
            }
        }
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
}
