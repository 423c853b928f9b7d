using BffSessions.Hosting;
using Serilog;

namespace BffSessions.Api.Identity;

/// <summary>Adds the signed-in user's id to the request's log line (Serilog's diagnostic context).</summary>
public static class RequestUserLogging
{
    /// <summary>After authentication, so the user is known whichever scheme signed them in.</summary>
    public static WebApplication UseUserInRequestLog(this WebApplication app)
    {
        app.UseMiddleware<UserInRequestLogMiddleware>();
        return app;
    }

    private sealed class UserInRequestLogMiddleware(RequestDelegate next, IDiagnosticContext diagnostics, CurrentUserAccessor users)
    {
        public Task InvokeAsync(HttpContext http)
        {
            // Only a usable user id: one with control characters or 10,000 characters has no place in a log line.
            if (http.User.Identity?.IsAuthenticated == true && users.TryGet(http.User, out var user))
            {
                diagnostics.Set(LoggingExtensions.UserIdProperty, user.Id);
            }

            return next(http);
        }
    }
}
