using System.Net;
using BffSessions.Hosting;
using Stripe;

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

    /// <summary>
    /// The problem a failed Stripe call ends in, or null for an exception that is not a Stripe call's: the one mapping
    /// that the problem handler answers by and the gateway's metrics count by.
    /// </summary>
    public static string? Of(Exception exception) => exception switch
    {
        StripeTimeoutException => StripeTimeout,
        StripeBusyException or StripeBudgetExhaustedException => StripeBusy,
        StripeCustomerMissingException or StripeAnswerRejectedException or StripeKeySpentException or StripeValueRefusedException => StripeError,
        StripeException { HttpStatusCode: HttpStatusCode.TooManyRequests } => StripeRateLimited,
        // A bad key (401), or a restricted key without the permission (403): the operators must fix it, retrying will not.
        StripeException { StripeError.Type: "authentication_error" or "permission_error" }
            or StripeException { HttpStatusCode: HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden } => StripeCredentialsRejected,
        StripeException => StripeError,
        HttpRequestException => StripeUnreachable,
        _ => null,
    };
}
