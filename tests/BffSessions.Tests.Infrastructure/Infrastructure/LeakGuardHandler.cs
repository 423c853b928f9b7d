using System.Text.Json;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Sits in every test client: fails the test if a response body holds a client secret, a key, a token or a
/// cookie value. The one place a client secret belongs — the clientSecret of a successful session — is the
/// exception, and even there it must be the only one.
/// </summary>
public sealed class LeakGuardHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.IsSuccessStatusCode && request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath == "/api/customer-sessions"
            && JsonDocument.Parse(body).RootElement.TryGetProperty("clientSecret", out var secret))
        {
            body = body.Replace(secret.GetString()!, "[the session's own secret]", StringComparison.Ordinal);
        }

        var leaks = Secrets.FoundIn([body]);
        Assert.True(leaks.Count == 0, $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode} with a secret in its body: {body}");
        return response;
    }
}
