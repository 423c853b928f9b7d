using System.Net;
using System.Text.Json;

namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// Below Stripe.net, on its HttpClient: every attempt (Stripe.net's retries included) waits for its turn in the budget,
/// and every rate-limit 429 Stripe answers slows the deployment down.
/// </summary>
public sealed class StripeBudgetHandler(StripeBudget budget) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await budget.WaitForTurnAsync(cancellationToken);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.TooManyRequests && await RateLimitReasonAsync(response, cancellationToken) is { } reason)
        {
            await budget.RateLimitedAsync(reason, cancellationToken);
        }

        return response;
    }

    /// <summary>
    /// Which of Stripe's limiters refused the call (<c>Stripe-Rate-Limited-Reason</c>: global-rate, endpoint-rate,
    /// global-concurrency, endpoint-concurrency), or null when the 429 is about one object, not the rate: another
    /// request holds it (code <c>lock_timeout</c>), or it is busy on its own (reason <c>resource-specific</c>).
    /// </summary>
    internal static async Task<string?> RateLimitReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Headers.TryGetValues("Stripe-Rate-Limited-Reason", out var reasons))
        {
            // A closed set, as a metric tag must be.
            return reasons.FirstOrDefault() switch
            {
                "resource-specific" => null,
                var reason and ("global-rate" or "endpoint-rate" or "global-concurrency" or "endpoint-concurrency") => reason,
                _ => "other",
            };
        }

        // Buffered: Stripe.net reads the same body again for its error.
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        try
        {
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return error.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
                && e.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String && code.GetString() == "lock_timeout"
                ? null
                : "rate_limit";
        }
        catch (JsonException)
        {
            return "rate_limit";
        }
    }
}
