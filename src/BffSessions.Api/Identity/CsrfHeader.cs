using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;

namespace BffSessions.Api.Identity;

/// <summary>
/// Marks an endpoint that a cookie session may call only with <c>X-CSRF: 1</c>. <paramref name="CookieOnly"/>: the
/// endpoint reads the cookie session whatever else the request carries (/bff/user), so an Authorization header
/// does not exempt it.
/// </summary>
public sealed record CsrfHeaderRequired(bool CookieOnly);

public static partial class CsrfHeader
{
    public const string Name = "X-CSRF";

    public static TBuilder RequireCsrfHeader<TBuilder>(this TBuilder builder, bool cookieOnly = false)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new CsrfHeaderRequired(cookieOnly));

    /// <summary>
    /// The BFF's CSRF defence (Duende BFF, IETF browser-based-apps): a request that authenticates by the session
    /// cookie must carry <c>X-CSRF: 1</c>, whatever other headers it carries. A custom header makes any cross-origin
    /// request a CORS preflight, which only the origins in Cors:AllowedOrigins pass, so another site can neither send
    /// the request nor read the answer. A bearer request to the API carries no ambient credential and needs no header.
    /// </summary>
    public static WebApplication UseCsrfHeaderCheck(this WebApplication app)
    {
        app.UseMiddleware<CsrfHeaderMiddleware>();
        return app;
    }

    private sealed class CsrfHeaderMiddleware(RequestDelegate next, IProblemDetailsService problems, ILogger<CsrfHeaderMiddleware> logger)
    {
        public async Task InvokeAsync(HttpContext http)
        {
            if (http.GetEndpoint()?.Metadata.GetMetadata<CsrfHeaderRequired>() is { } required
                && http.Request.Headers[Name] != "1"
                && await AuthenticatesByCookieAsync(http, required))
            {
                LogRefused(logger, http.Request.Method, LogValues.Text(http.Request.Path), Name, LogValues.Text(http.Request.Headers.Origin));
                await problems.WriteAsync(http, IdentityProblems.CsrfHeaderMissing.Create(IdentityProblems.CsrfHeaderMissingDetail));
                return;
            }

            await next(http);
        }

        /// <summary>
        /// Whether the session cookie is what this request would be served as. The API takes a request with an
        /// Authorization header as a bearer request and never looks at its cookie; a cookie-only endpoint always does.
        /// The cookie handler caches its answer, so asking again costs nothing.
        /// </summary>
        private static async Task<bool> AuthenticatesByCookieAsync(HttpContext http, CsrfHeaderRequired required) =>
            (required.CookieOnly || !IdentityExtensions.UsesBearer(http.Request))
            && (await http.AuthenticateAsync(IdentityExtensions.CookieScheme)).Succeeded;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Refused a cookie-authenticated {Method} {Path} without the {Header} header (origin {Origin})")]
    private static partial void LogRefused(ILogger logger, string method, string path, string header, string origin);
}
