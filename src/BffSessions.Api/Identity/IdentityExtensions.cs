using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Swashbuckle.AspNetCore.SwaggerUI;

namespace BffSessions.Api.Identity;

/// <summary>
/// Signing in, as Duende BFF does it: the schemes (<see cref="AuthenticationSchemes"/>), server-side sessions
/// (<see cref="BrowserSessionStore"/>), and the /bff endpoints (<see cref="BffEndpoints"/>), one handler each.
/// </summary>
public static class IdentityExtensions
{
    /// <summary>The policy every API endpoint requires: an authenticated caller with a user id claim.</summary>
    public const string SignedInUserPolicy = "SignedInUser";

    /// <summary>
    /// The scheme the API authenticates with: a selector, not a scheme of its own. A request with an
    /// Authorization header is a bearer request (mobile app, SPA); any other is the browser's cookie session.
    /// </summary>
    public const string ApiScheme = "Api";

    public const string CookieScheme = CookieAuthenticationDefaults.AuthenticationScheme;

    public const string OidcScheme = OpenIdConnectDefaults.AuthenticationScheme;

    /// <summary>
    /// The session cookie. <c>__Host-</c> pins it to this host, path / and HTTPS (browsers treat http://localhost
    /// as secure, so local development works too).
    /// </summary>
    public const string CookieName = "__Host-bff";

    public static bool UsesBearer(HttpRequest request) => request.Headers.Authorization.Count > 0;

    /// <summary>The issuers this deployment's settings name, first the bearer scheme's (its ValidIssuer(s), its Authority), then browser sign-in's.</summary>
    public static IEnumerable<string> TrustedIssuers(JwtBearerOptions bearer, OpenIdConnectSettings openIdConnect) =>
        new[] { bearer.TokenValidationParameters.ValidIssuer }
            .Concat(bearer.TokenValidationParameters.ValidIssuers ?? [])
            .Append(bearer.Authority)
            .Append(openIdConnect.Authority)
            .OfType<string>()
            .Where(issuer => issuer.Length > 0);

    public static IHostApplicationBuilder AddIdentity(this IHostApplicationBuilder builder)
    {
        DevelopmentUserSecrets.WatchEvenBeforeTheFirstSecret(builder);
        builder.Services.AddOptions<UserClaimsOptions>()
            .BindConfiguration(UserClaimsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<BffOptions>()
            .BindConfiguration(BffOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<OpenIdConnectSettings>()
            .BindConfiguration(OpenIdConnectSettings.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<OpenIdConnectSettings>, OpenIdConnectSettingsValidator>();
        builder.Services.AddSingleton<CurrentUserAccessor>();
        AuthenticationSchemes.Add(builder);

        // Server-side sessions: the store the cookie points into, their end by the provider's word, their cleanup.
        builder.Services.AddSingleton<BrowserSessionStore>();
        builder.Services.AddSingleton<BrowserSessions>();
        builder.Services.AddSingleton<BackchannelLogout>();
        builder.Services.AddSingleton<SeenLogoutTokens>();
        builder.Services.AddHostedService<ExpiredSessionCleanup>();
        builder.Services.AddExceptionHandler<IdentityProviderProblemHandler>();

        builder.Services.AddSingleton<IRequestLogEnricher, UserInRequestLog>();
        // A page on an allowed origin sends the CSRF header with its cookie calls: the preflight must let it through.
        builder.AllowCrossOriginHeader(CsrfHeader.Name);
        // Someone signed in through /bff/login can try the API in Swagger UI without a token: its fetch sends the
        // session cookie (same origin), and this adds the CSRF header cookie sessions need.
        builder.Services.Configure<SwaggerUIOptions>(ui =>
            ui.Interceptors.RequestInterceptorFunction = $"(request) => {{ request.headers['{CsrfHeader.Name}'] = '1'; return request; }}");
        return builder;
    }

    /// <summary>
    /// Who the caller is, and the BFF's CSRF rule: authentication (bearer or cookie), then a cookie session's API calls
    /// must carry <c>X-CSRF: 1</c> (<see cref="CsrfHeader"/>), then authorization.
    /// </summary>
    public static WebApplication UseBff(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseCsrfHeaderCheck();
        app.UseAuthorization();
        return app;
    }
}
