namespace BffSessions.Api.Payments;

/// <summary>Stripe did not answer within <see cref="StripeOptions.Timeout"/>, retries included.</summary>
public sealed class StripeTimeoutException(TimeSpan budget, Exception inner)
    : Exception($"Stripe did not answer within {budget}.", inner)
{
    public TimeSpan Budget { get; } = budget;
}

/// <summary>Too many Stripe calls are in flight (<see cref="StripeOptions.MaxCallsInFlight"/>): refuse rather than queue without bound.</summary>
public sealed class StripeBusyException() : Exception("Too many Stripe calls in flight.");

/// <summary>Stripe answered resource_missing for the customer: it was deleted (in the Dashboard, say).</summary>
public sealed class StripeCustomerMissingException(string customerId, Exception inner)
    : Exception($"Stripe no longer knows customer {customerId}.", inner)
{
    public string CustomerId { get; } = customerId;
}
