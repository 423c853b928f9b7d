using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>Stripe did not answer within <see cref="StripeOptions.Timeout"/>, retries included.</summary>
public sealed class StripeTimeoutException(TimeSpan timeout, Exception inner)
    : Exception($"Stripe did not answer within {timeout}.", inner)
{
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>Too many Stripe calls are in flight (<see cref="StripeOptions.MaxCallsInFlight"/>): refuse rather than queue without bound.</summary>
public sealed class StripeBusyException() : Exception("Too many Stripe calls in flight.");

/// <summary>
/// The deployment's budget of Stripe calls (<see cref="StripeOptions.RequestsPerSecond"/>) has no turn free within
/// <see cref="StripeOptions.BudgetWait"/>. Thrown below Stripe.net (in the HttpClient's handler), as a type it neither
/// retries nor wraps, so the call ends at once and nothing is sent.
/// </summary>
public sealed class StripeBudgetExhaustedException(TimeSpan retryAfter) : Exception("No turn free in the Stripe call budget.")
{
    /// <summary>When the calls already booked will have been sent: when a retry can expect a turn.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>Stripe answered resource_missing for the customer: it was deleted (in the Dashboard, say).</summary>
public sealed class StripeCustomerMissingException(string customerId, Exception inner)
    : Exception($"Stripe no longer knows customer {customerId}.", inner)
{
    public string CustomerId { get; } = customerId;
}

/// <summary>
/// Stripe answered 200, but not with a session this service can hand out: no secret, an expiry that is not in the next
/// day, or a session for another customer than the one asked for (the one check that keeps one user's secret from
/// ever reaching another). <see cref="Exception.Message"/> says which, and never quotes the answer.
/// </summary>
public sealed class StripeAnswerRejectedException(string reason, string? requestId) : Exception(reason)
{
    public string? RequestId { get; } = requestId;
}

/// <summary>
/// Stripe answered a creation with a failure it keeps for the idempotency key (API v1: a 5xx, or an
/// <c>idempotency_error</c>): every later request with that key would get the same answer for a day. The key is
/// spent; whether Stripe made a customer anyway is unknown until its search can tell (Customers settles that).
/// </summary>
public sealed class StripeKeySpentException(string idempotencyKey, Exception inner)
    : Exception("Stripe keeps a failure for this creation's idempotency key.", inner)
{
    public string IdempotencyKey { get; } = idempotencyKey;
}

/// <summary>
/// Stripe refused a value that came from the user's identity (their name or email) with a 400 on that parameter. It
/// stored nothing and made nothing; the same value would be refused again.
/// </summary>
public sealed class StripeValueRefusedException(CustomerField field, Exception inner)
    : Exception($"Stripe refused the customer's {field.ToString().ToLowerInvariant()}.", inner)
{
    public CustomerField Field { get; } = field;
}

/// <summary>How Stripe's failures bear on what to do next.</summary>
public static class StripeFailures
{
    /// <summary>
    /// A failure Stripe keeps for the idempotency key (API v1): any 5xx, since Stripe saves the answer "regardless of
    /// whether it succeeds or fails", and an <c>idempotency_error</c>. A retry under the same key only replays it.
    /// </summary>
    public static bool IsKeptForKey(StripeException e) =>
        // A 409 (the key's first request still running) is not: Stripe stores nothing for it, and the first request
        // may yet make the customer. Stripe.net retries it under the same key, which is right.
        (int)e.HttpStatusCode >= 500 || (e.HttpStatusCode == System.Net.HttpStatusCode.BadRequest && e.StripeError?.Type == "idempotency_error");

    /// <summary>The identity field Stripe refused, when a 400 names one (the customer's, or an Account's contact).</summary>
    public static CustomerField? RefusedField(StripeException e) =>
        e.HttpStatusCode == System.Net.HttpStatusCode.BadRequest && e.StripeError?.Type == "invalid_request_error"
            ? e.StripeError.Param switch
            {
                "email" or "contact_email" => CustomerField.Email,
                "name" or "display_name" => CustomerField.Name,
                _ => null,
            }
            : null;

    /// <summary>Stripe.net's own back-off before retry <paramref name="retry"/> (0-based): 0.5 s, doubling, at most 5 s, with jitter.</summary>
    public static TimeSpan RetryDelay(int retry)
    {
        var delay = TimeSpan.FromSeconds(Math.Min(5, 0.5 * Math.Pow(2, retry)));
        return delay * (0.75 + (Random.Shared.NextDouble() / 4));
    }
}
