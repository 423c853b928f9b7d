using BffSessions.Hosting;

namespace BffSessions.Api.Payments;

/// <summary>The problems a Stripe call can end in (see the README's error table).</summary>
public static class PaymentProblemTypes
{
    public const string StripeError = ProblemTypes.Prefix + "stripe-error";
    public const string StripeUnreachable = ProblemTypes.Prefix + "stripe-unreachable";
    public const string StripeCredentialsRejected = ProblemTypes.Prefix + "stripe-credentials-rejected";
    public const string StripeRateLimited = ProblemTypes.Prefix + "stripe-rate-limited";
    public const string StripeBusy = ProblemTypes.Prefix + "stripe-busy";
    public const string StripeTimeout = ProblemTypes.Prefix + "stripe-timeout";
}
