using BffSessions.Hosting;
using Microsoft.AspNetCore.Diagnostics;

namespace BffSessions.Api.Identity;

/// <summary>
/// The OpenID Connect provider's discovery document could not be fetched (the provider is down or unreachable) while
/// signing in or out: a 502 problem that says so, not a 500.
/// </summary>
public sealed partial class IdentityProviderProblemHandler(IProblemDetailsService problems, ILogger<IdentityProviderProblemHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // IDX20803 is Microsoft.IdentityModel's "Unable to obtain configuration from …": its codes are stable by design.
        if (exception is not InvalidOperationException { Message: var message } || !message.StartsWith("IDX20803", StringComparison.Ordinal))
        {
            return false;
        }

        LogUnreachable(logger, exception.GetBaseException().GetType().Name);
        await problems.WriteAsync(httpContext, Problems.Create(StatusCodes.Status502BadGateway, IdentityProblemTypes.IdentityProviderUnreachable,
            "The identity provider could not be reached", "Signing in or out needs the identity provider, which did not answer. Try again."), exception);
        return true;
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Error, Message = "The OpenID Connect provider's configuration could not be fetched ({Reason})")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
