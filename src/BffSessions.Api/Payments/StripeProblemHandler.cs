using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using BffSessions.Api.Hosting;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>
/// Turns every way a Stripe call can fail into a problem for the front-end: 502 when Stripe said no or broke,
/// 503 + Retry-After when Stripe rate-limits us, 504 when it did not answer in time. The problem carries the
/// trace id and Stripe's request id (both useful to support); Stripe's message, error codes and our key stay
/// in the log, never in the response.
/// </summary>
public sealed partial class StripeProblemHandler(IProblemDetailsService problems, ILogger<StripeProblemHandler> logger) : IExceptionHandler
{
    private const string RetryAfterSeconds = "1";

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            StripeTimeoutException timeout => Timeout(timeout),
            StripeBusyException => Busy(),
            StripeException { HttpStatusCode: HttpStatusCode.TooManyRequests } e => RateLimited(e),
            StripeException { StripeError.Type: "authentication_error" } or StripeException { HttpStatusCode: HttpStatusCode.Unauthorized } => Unauthorized((StripeException)exception),
            StripeException e => Failed(e),
            HttpRequestException e => Unreachable(e),
            _ => null,
        };
        if (problem is null)
        {
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private ProblemDetails Timeout(StripeTimeoutException e)
    {
        logger.LogError("Stripe did not answer within {StripeTimeout}", e.Budget);
        return Problem(StatusCodes.Status504GatewayTimeout, ProblemTypes.StripeTimeout, "Stripe did not answer in time",
            "The payment provider did not answer in time. Try again.", requestId: null);
    }

    private ProblemDetails RateLimited(StripeException e)
    {
        logger.LogWarning("Stripe rate-limited the request ({StripeRequestId})", e.StripeResponse?.RequestId);
        return Problem(StatusCodes.Status503ServiceUnavailable, ProblemTypes.StripeRateLimited, "Stripe is rate-limiting requests",
            "The payment provider is rate-limiting requests. Retry after the time in the Retry-After header.", e.StripeResponse?.RequestId);
    }

    private ProblemDetails Unauthorized(StripeException e)
    {
        // Stripe's message for a bad key quotes part of the key, so only the request id is logged.
        logger.LogCritical("Stripe rejected the API key: check Stripe:SecretKey ({StripeRequestId})", e.StripeResponse?.RequestId);
        return Problem(StatusCodes.Status502BadGateway, ProblemTypes.StripeCredentialsRejected, "Stripe could not be used",
            "The payment provider rejected this service's credentials. The operators have been alerted.", e.StripeResponse?.RequestId);
    }

    private ProblemDetails Failed(StripeException e)
    {
        logger.LogError(
            "Stripe answered {StripeStatus} {StripeErrorType}/{StripeErrorCode} on {StripeErrorParam}: {StripeMessage} ({StripeRequestId})",
            (int)e.HttpStatusCode, e.StripeError?.Type, e.StripeError?.Code, e.StripeError?.Param, Redact(e.StripeError?.Message), e.StripeResponse?.RequestId);
        return Problem(StatusCodes.Status502BadGateway, ProblemTypes.StripeError, "Stripe could not complete the request",
            "The payment provider could not complete the request. Try again; if it keeps failing, contact support with the trace id.",
            e.StripeResponse?.RequestId);
    }

    private ProblemDetails Unreachable(HttpRequestException e)
    {
        logger.LogError("Stripe could not be reached: {Reason}", e.HttpRequestError);
        return Problem(StatusCodes.Status502BadGateway, ProblemTypes.StripeUnreachable, "Stripe could not be reached",
            "The payment provider could not be reached. Try again.", requestId: null);
    }

    /// <summary>Stripe's messages can quote a key or a secret back (an invalid key, a bad parameter value): mask them.</summary>
    private static string? Redact(string? message) => message is null ? null : SecretLike().Replace(message, "[redacted]");

    [GeneratedRegex(@"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+|cuss_secret_[A-Za-z0-9]+|\bBearer\s+\S+")]
    private static partial Regex SecretLike();

    private ProblemDetails Busy()
    {
        logger.LogWarning("Refused a Stripe call: the in-flight limit (RateLimiting:StripeConcurrency) is reached");
        return Problem(StatusCodes.Status503ServiceUnavailable, ProblemTypes.StripeBusy, "Too many Stripe calls in flight",
            "The service is at its limit of concurrent payment-provider calls. Retry after the time in the Retry-After header.", requestId: null);
    }

    private static ProblemDetails Problem(int status, string type, string title, string detail, string? requestId)
    {
        var problem = new ProblemDetails { Status = status, Type = type, Title = title, Detail = detail };
        if (requestId is not null)
        {
            problem.Extensions["stripeRequestId"] = requestId;
        }

        return problem;
    }
}
