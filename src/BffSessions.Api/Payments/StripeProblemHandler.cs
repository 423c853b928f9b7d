using System.Globalization;
using System.Text.RegularExpressions;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>
/// Turns every way a Stripe call can fail into a problem for the front-end: 502 when Stripe said no or broke,
/// 503 + Retry-After when Stripe rate-limits us or too many calls are in flight, 504 when it did not answer in time.
/// The problem carries the trace id and Stripe's request id (both useful to support); Stripe's message, error codes
/// and our key stay in the log, never in the response.
/// </summary>
public sealed partial class StripeProblemHandler(IProblemDetailsService problems, TimeProvider time, ILogger<StripeProblemHandler> logger) : IExceptionHandler
{
    /// <summary>
    /// When Stripe gives no Retry-After of its own: a second is about what a rate-limited Stripe account or a full
    /// in-flight bound needs to drain, and short enough that a page retrying once does not feel broken.
    /// </summary>
    private static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Stripe's own hint is passed on, but never more than a minute: a page should not wait longer than that. The
    /// budget's fair shares are cut to the same minute, so that no Retry-After says less than a share.
    /// </summary>
    private static readonly TimeSpan MaxRetryAfter = Budget.FairShares.MaxShareInterval;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var kind = PaymentProblems.Of(exception);
        var problem = exception switch
        {
            StripeTimeoutException timeout => Timeout(timeout),
            // StripeBudget has logged it, with how far ahead the budget is booked.
            StripeBudgetExhaustedException => PaymentProblems.StripeBusy.Create(PaymentProblems.BudgetDetail),
            StripeBusyException => Busy(),
            StripeCustomerMissingException missing => CustomerStillMissing(missing),
            StripeAnswerRejectedException rejected => Rejected(rejected),
            // Logged by Customers as it started another attempt; what ended the request is Stripe's own answer.
            StripeKeySpentException { InnerException: StripeException e } => Failed(e),
            StripeValueRefusedException refused => ValueRefused(refused),
            StripeException e when kind == PaymentProblems.StripeRateLimited => RateLimited(e),
            StripeException e when kind == PaymentProblems.StripeCredentialsRejected => Unauthorized(e),
            StripeException e => Failed(e),
            HttpRequestException e => Unreachable(e),
            _ => null,
        };
        if (problem is null)
        {
            return false;
        }

        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            var retryAfter = exception is StripeBudgetExhaustedException budget
                ? Clamp(budget.RetryAfter)
                : RetryAfter((exception as StripeException)?.StripeResponse?.Headers?.RetryAfter, time.GetUtcNow());
            httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        await problems.WriteAsync(httpContext, problem, exception);
        return true;
    }

    private ProblemDetails Timeout(StripeTimeoutException e)
    {
        LogTimeout(logger, e.Timeout);
        return TimeoutProblem();
    }

    private static ProblemDetails TimeoutProblem() => PaymentProblems.StripeTimeout.Create(PaymentProblems.TimeoutDetail);

    private ProblemDetails RateLimited(StripeException e)
    {
        LogRateLimited(logger, e.StripeResponse?.RequestId);
        return RateLimitedProblem(e.StripeResponse?.RequestId);
    }

    private static ProblemDetails RateLimitedProblem(string? requestId) => WithRequestId(PaymentProblems.StripeRateLimited.Create(PaymentProblems.RateLimitedDetail), requestId);

    private ProblemDetails Unauthorized(StripeException e)
    {
        // Stripe's message for a bad key quotes part of the key, so only the request id is logged.
        LogKeyRejected(logger, e.StripeResponse?.RequestId);
        return CredentialsRejectedProblem(e.StripeResponse?.RequestId);
    }

    private static ProblemDetails CredentialsRejectedProblem(string? requestId) =>
        WithRequestId(PaymentProblems.StripeCredentialsRejected.Create(PaymentProblems.CredentialsRejectedDetail), requestId);

    private ProblemDetails Failed(StripeException e)
    {
        if (e.StripeError is null)
        {
            // Not an error Stripe wrote: the answer was not JSON, or not the object asked for. Stripe.net's message
            // quotes the answer, which may hold a secret, so only the fact is logged.
            LogUnreadable(logger, (int)e.HttpStatusCode, e.StripeResponse?.RequestId);
        }
        else
        {
            LogFailed(logger, (int)e.HttpStatusCode, e.StripeError.Type, e.StripeError.Code, e.StripeError.Param, Redact(e.StripeError.Message), e.StripeResponse?.RequestId);
        }

        return StripeError(e.StripeResponse?.RequestId);
    }

    private ProblemDetails Rejected(StripeAnswerRejectedException e)
    {
        LogRejected(logger, e.Message, e.RequestId);
        return StripeError(e.RequestId);
    }

    /// <summary>
    /// Stripe refused a name or email even after it was left out once (the retries ran out): nothing the user can
    /// change in the request; the operators see which field, never its value.
    /// </summary>
    private ProblemDetails ValueRefused(StripeValueRefusedException e)
    {
        var requestId = (e.InnerException as StripeException)?.StripeResponse?.RequestId;
        LogValueRefused(logger, e.Field, requestId);
        return WithRequestId(PaymentProblems.StripeError.Create(PaymentProblems.ValueRefusedDetail), requestId);
    }

    /// <summary>The customer was replaced once and Stripe still says it is missing: something is wrong beyond self-healing.</summary>
    private ProblemDetails CustomerStillMissing(StripeCustomerMissingException e)
    {
        var requestId = (e.InnerException as StripeException)?.StripeResponse?.RequestId;
        LogStillMissing(logger, e.CustomerId, requestId);
        return StripeError(requestId);
    }

    private static ProblemDetails StripeError(string? requestId) => WithRequestId(PaymentProblems.StripeError.Create(PaymentProblems.StripeErrorDetail), requestId);

    /// <summary>Stripe's Retry-After, in seconds or as a date, within 1 s and a minute; our default without one.</summary>
    public static TimeSpan RetryAfter(System.Net.Http.Headers.RetryConditionHeaderValue? hint, DateTimeOffset now)
    {
        var wait = hint?.Delta ?? (hint?.Date is { } date ? date - now : null);
        return wait is not { } given || given <= TimeSpan.Zero ? DefaultRetryAfter : Clamp(given);
    }

    private static TimeSpan Clamp(TimeSpan wait) => wait < DefaultRetryAfter ? DefaultRetryAfter : wait > MaxRetryAfter ? MaxRetryAfter : wait;

    private ProblemDetails Unreachable(HttpRequestException e)
    {
        LogUnreachable(logger, e.HttpRequestError);
        return UnreachableProblem();
    }

    private static ProblemDetails UnreachableProblem() => PaymentProblems.StripeUnreachable.Create(PaymentProblems.UnreachableDetail);

    private ProblemDetails Busy()
    {
        LogBusy(logger);
        return BusyProblem();
    }

    private static ProblemDetails BusyProblem() => PaymentProblems.StripeBusy.Create(PaymentProblems.InFlightDetail);

    /// <summary>
    /// Stripe's messages can quote a key or a secret back (an invalid key, a bad parameter value), often name the
    /// customer ("No such customer: 'cus_…'"), and repeat a bad value ("Invalid email address: …"): mask them, so the
    /// log (and what telemetry exports of it) holds none of them. Whatever holds an @ (or a fullwidth ＠) is masked
    /// whole, quoted local parts included: an address need not look like one to be one.
    /// </summary>
    private static string? Redact(string? message) => message is null ? null : SecretLike().Replace(message, "[redacted]");

    [GeneratedRegex(@"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+|cuss_secret_[A-Za-z0-9]+|whsec_[A-Za-z0-9]+|\bBearer\s+\S+|\b(cus|acct)_[A-Za-z0-9]+|""[^""]*""[@＠]\S*|[^\s@＠]*[@＠]\S*")]
    private static partial Regex SecretLike();

    private static ProblemDetails WithRequestId(ProblemDetails problem, string? requestId)
    {
        if (requestId is not null)
        {
            problem.Extensions[PaymentProblems.StripeRequestIdMember] = requestId;
        }

        return problem;
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Stripe did not answer within {StripeTimeout}")]
    private static partial void LogTimeout(ILogger logger, TimeSpan stripeTimeout);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Stripe rate-limited the request ({StripeRequestId})")]
    private static partial void LogRateLimited(ILogger logger, string? stripeRequestId);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Critical, Message = "Stripe rejected the API key or its permissions: check Stripe:SecretKey ({StripeRequestId})")]
    private static partial void LogKeyRejected(ILogger logger, string? stripeRequestId);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error,
        Message = "Stripe answered {StripeStatus} {StripeErrorType}/{StripeErrorCode} on {StripeErrorParam}: {StripeMessage} ({StripeRequestId})")]
    private static partial void LogFailed(ILogger logger, int stripeStatus, string? stripeErrorType, string? stripeErrorCode, string? stripeErrorParam,
        string? stripeMessage, string? stripeRequestId);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Stripe could not be reached: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, HttpRequestError reason);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Refused a Stripe call: the in-flight limit (Stripe:MaxCallsInFlight) is reached")]
    private static partial void LogBusy(ILogger logger);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Error, Message = "Stripe answered {StripeStatus} with something that is not the object asked for ({StripeRequestId})")]
    private static partial void LogUnreadable(ILogger logger, int stripeStatus, string? stripeRequestId);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Error, Message = "Stripe answered with a session this service cannot hand out: {Reason} ({StripeRequestId})")]
    private static partial void LogRejected(ILogger logger, string reason, string? stripeRequestId);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Error,
        Message = "Stripe refused the customer's {Field} on every attempt; the request ends here ({StripeRequestId})")]
    private static partial void LogValueRefused(ILogger logger, CustomerField field, string? stripeRequestId);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Error,
        Message = "Stripe does not know customer {CustomerId} even after it was replaced ({StripeRequestId})")]
    private static partial void LogStillMissing(ILogger logger, string customerId, string? stripeRequestId);
}
