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
