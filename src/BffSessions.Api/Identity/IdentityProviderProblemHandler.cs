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
        // Only the discovery failure: any other HttpRequestException here is some other call's (Stripe's, say).
        if (!IsDiscoveryFailure(exception))
        {
            return false;
        }

        LogUnreachable(logger, exception.GetBaseException().GetType().Name);
        await problems.WriteAsync(httpContext, IdentityProblems.IdentityProviderUnreachable.Create(IdentityProblems.ProviderUnreachableDetail), exception);
        return true;
    }

    /// <summary>
    /// The provider's discovery document could not be fetched: Microsoft.IdentityModel's IDX20803, "Unable to obtain
    /// configuration from …" (its codes are stable by design).
    /// </summary>
    public static bool IsDiscoveryFailure(Exception? exception) =>
        exception is InvalidOperationException { Message: var message } && message.StartsWith("IDX20803", StringComparison.Ordinal);

    /// <summary>For a sign-in callback's failure, where every call made is the provider's: discovery, or redeeming the code on the wire.</summary>
    public static bool IsProviderUnreachable(Exception? exception) =>
        IsDiscoveryFailure(exception) || exception is HttpRequestException || exception?.InnerException is HttpRequestException;

    [LoggerMessage(EventId = 2301, Level = LogLevel.Error, Message = "The OpenID Connect provider's configuration could not be fetched ({Reason})")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
