namespace BffSessions.Api.Payments;

/// <summary>
/// Below Stripe.net: a 5xx answer to a v1 request that carried an <c>Idempotency-Key</c> is marked
/// <c>Stripe-Should-Retry: false</c>. Stripe keeps that answer for the key "including 500 errors" and replays it for
/// at least a day, so Stripe.net's retry under the same key could only replay it, spending a turn of the budget and a
/// back-off each time. The gateway tries again under a new key where that is safe (sessions); a customer creation's
/// key is spent, and Customers starts a new attempt. API v2 finishes failed work on a retry under the same key, so its
/// answers are left as they are.
/// </summary>
public sealed class StripeIdempotencyHandler : DelegatingHandler
{
    private const string ShouldRetry = "Stripe-Should-Retry";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if ((int)response.StatusCode >= 500
            && request.Headers.Contains("Idempotency-Key")
            && request.RequestUri?.AbsolutePath.StartsWith("/v1/", StringComparison.Ordinal) == true)
        {
            response.Headers.Remove(ShouldRetry);
            response.Headers.TryAddWithoutValidation(ShouldRetry, "false");
        }

        return response;
    }
}
