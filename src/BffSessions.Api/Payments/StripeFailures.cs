namespace BffSessions.Api.Payments;

/// <summary>Stripe did not answer within <see cref="StripeOptions.Timeout"/>, retries included.</summary>
public sealed class StripeTimeoutException(TimeSpan budget, Exception inner)
    : Exception($"Stripe did not answer within {budget}.", inner)
{
    public TimeSpan Budget { get; } = budget;
}
