using BffSessions.Hosting;

namespace BffSessions.Api.Identity;

/// <summary>Marks an endpoint that a cookie session may call only with <c>X-CSRF: 1</c>.</summary>
public sealed class CsrfHeaderRequired;

public static partial class CsrfHeader
{
    public const string Name = "X-CSRF";

    public static TBuilder RequireCsrfHeader<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new CsrfHeaderRequired());

    /// <summary>
    /// The BFF's CSRF defence (Duende BFF, IETF browser-based-apps): a cookie-authenticated call to an API must carry
    /// <c>X-CSRF: 1</c>. A custom header makes any cross-origin request a CORS preflight, which only the origins in
    /// Cors:AllowedOrigins pass, so another site can neither send the request nor read the answer. Bearer requests
    /// carry no ambient credential and need no header.
    /// </summary>
    public static WebApplication UseCsrfHeaderCheck(this WebApplication app)
    {
        app.UseMiddleware<CsrfHeaderMiddleware>();
        return app;
    }

    private sealed class CsrfHeaderMiddleware(RequestDelegate next, IProblemDetailsService problems, ILogger<CsrfHeaderRequired> logger)
    {
        public async Task InvokeAsync(HttpContext http)
        {
            if (http.GetEndpoint()?.Metadata.GetMetadata<CsrfHeaderRequired>() is not null
                && !IdentityExtensions.UsesBearer(http.Request)
                && http.User.Identity?.IsAuthenticated == true
                && http.Request.Headers[Name] != "1")
            {
                LogRefused(logger, http.Request.Method, http.Request.Path, Name, http.Request.Headers.Origin.ToString());
                await problems.WriteAsync(http, AuthProblems.Create(StatusCodes.Status401Unauthorized,
                    $"Cookie-authenticated API calls must carry the header {Name}: 1.", IdentityProblemTypes.CsrfHeaderMissing));
                return;
            }

            await next(http);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Refused a cookie-authenticated {Method} {Path} without the {Header} header (origin {Origin})")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string header, string origin);
}
