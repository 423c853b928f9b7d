using System.Net;
using BffSessions.Hosting;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>The problems a Stripe call can end in (docs/api.md's error table), and the details they are written with.</summary>
public static class PaymentProblems
{
    public static readonly ProblemKind StripeError = new(StatusCodes.Status502BadGateway, "stripe-error", "Stripe could not complete the request");
    public static readonly ProblemKind StripeUnreachable = new(StatusCodes.Status502BadGateway, "stripe-unreachable", "Stripe could not be reached");
    public static readonly ProblemKind StripeCredentialsRejected = new(StatusCodes.Status502BadGateway, "stripe-credentials-rejected", "Stripe could not be used");
    public static readonly ProblemKind StripeRateLimited = new(StatusCodes.Status503ServiceUnavailable, "stripe-rate-limited", "Stripe is rate-limiting requests");
    public static readonly ProblemKind StripeBusy = new(StatusCodes.Status503ServiceUnavailable, "stripe-busy", "Too many Stripe calls");
    public static readonly ProblemKind StripeTimeout = new(StatusCodes.Status504GatewayTimeout, "stripe-timeout", "Stripe did not answer in time");

    public const string StripeErrorDetail = "The payment provider could not complete the request. Try again; if it keeps failing, contact support with the trace id.";
    public const string ValueRefusedDetail =
        "The payment provider refused the details of this user's customer record. Try again; if it keeps failing, contact support with the trace id.";
    public const string UnreachableDetail = "The payment provider could not be reached. Try again.";
    public const string CredentialsRejectedDetail = "The payment provider rejected this service's credentials. The operators have been alerted.";
    public const string RateLimitedDetail = "The payment provider is rate-limiting requests. Retry after the time in the Retry-After header.";
    public const string InFlightDetail = "The service is at its limit of concurrent payment-provider calls. Retry after the time in the Retry-After header.";
    public const string BudgetDetail = "The service is at its budget of payment-provider calls per second. Retry after the time in the Retry-After header.";
    public const string TimeoutDetail = "The payment provider did not answer in time. Try again.";

    /// <summary>The member that carries Stripe's request id: what Stripe's support asks for.</summary>
    public const string StripeRequestIdMember = "stripeRequestId";

    /// <summary>
    /// The problem a failed Stripe call ends in, or null for an exception that is not a Stripe call's: the one mapping
    /// that the problem handler answers by and the gateway's metrics count by.
    /// </summary>
    public static ProblemKind? Of(Exception exception) => exception switch
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
