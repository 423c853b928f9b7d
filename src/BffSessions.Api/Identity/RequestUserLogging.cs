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
            if (http.User.Identity?.IsAuthenticated == true)
            {
                diagnostics.Set("UserId", users.UserIdOf(http.User));
            }

            return next(http);
        }
    }
}
