using BffSessions.Hosting;
using Serilog;

namespace BffSessions.Api.Identity;

/// <summary>The signed-in user's id on the request's log line, whichever scheme signed them in.</summary>
internal sealed class UserInRequestLog(CurrentUserAccessor users) : IRequestLogEnricher
{
    public void Enrich(IDiagnosticContext diagnostics, HttpContext http)
    {
        // Only a usable user id: one with control characters or 10,000 characters has no place in a log line.
        if (http.User.Identity?.IsAuthenticated == true && users.TryGet(http.User, out var user))
        {
            diagnostics.Set(LoggingExtensions.UserIdProperty, user.Id);
        }
    }
}
