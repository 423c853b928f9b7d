using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Swashbuckle.AspNetCore.SwaggerUI;

namespace BffSessions.Api.Identity;

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

    public static IHostApplicationBuilder AddIdentity(this IHostApplicationBuilder builder)
    {
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

        var authentication = builder.Services.AddAuthentication(ApiScheme)
            .AddPolicyScheme(ApiScheme, "Bearer token or session cookie", options =>
                options.ForwardDefaultSelector = http => UsesBearer(http.Request) ? JwtBearerDefaults.AuthenticationScheme : CookieScheme)
            // Binds Authentication:Schemes:Bearer (Authority, ValidAudiences, ValidIssuer, SigningKeys),
            // the section `dotnet user-jwts` writes.
            .AddJwtBearer(options =>
            {
                // Keep claim names as the token has them ("sub", "email"), not WS-Federation URIs.
                options.MapInboundClaims = false;
                options.Events = new JwtBearerEvents { OnChallenge = WriteBearerChallengeAsync, OnForbidden = WriteForbiddenAsync };
            })
            .AddCookie(CookieScheme, options =>
            {
                options.Cookie.Name = CookieName;
                options.Cookie.HttpOnly = true;
                options.Cookie.SecurePolicy = CookieSecurePolicy.Always;
                options.Cookie.Path = "/";
                // Strict: the cookie never rides on a request another site starts. The OpenID Connect callback does
                // not need Lax: the handler's own correlation and nonce cookies carry the cross-site return from the
                // provider, and this cookie is only *set* by that response. (A full-page navigation straight from
                // the provider back to a page would not carry it, but the demo page asks /bff/user with fetch,
                // which is same-site.)
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.SlidingExpiration = true;
                options.Events = new CookieAuthenticationEvents
                {
                    OnRedirectToLogin = context => AuthProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized,
                        "Sign in at /bff/login, or send a bearer token."),
                    OnRedirectToAccessDenied = context => WriteForbiddenAsync(context.HttpContext),
                    OnSigningIn = context =>
                    {
                        AddSessionId(context.Principal!);
                        return Task.CompletedTask;
                    },
                };
            });
        // ASP.NET Core binds SigningKeys as a lazy sequence over configuration, and the handler copies its validation
        // parameters on every request: unmaterialized, each request would re-read the settings and build new key
        // objects (defeating the signature-provider cache). Read them once.
        builder.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
            options.TokenValidationParameters.IssuerSigningKeys = options.TokenValidationParameters.IssuerSigningKeys?.ToArray());
        builder.Services.AddOptions<CookieAuthenticationOptions>(CookieScheme)
            .Configure<IOptions<BffOptions>>((cookie, bff) => cookie.ExpireTimeSpan = bff.Value.SessionIdleTimeout);

        // Whether the scheme exists at all must be known while registering: an OpenID Connect handler without a
        // provider would fail on every request. The same section is bound into OpenIdConnectSettings for the rest.
        if (builder.Configuration.GetSection(OpenIdConnectSettings.SectionName).Get<OpenIdConnectSettings>() is { IsConfigured: true })
        {
            authentication.AddOpenIdConnect(OidcScheme, options =>
            {
                // Authority, ClientId, ClientSecret, Scope, RequireHttpsMetadata … as named in the section.
                builder.Configuration.GetSection(OpenIdConnectSettings.SectionName).Bind(options);
                options.SignInScheme = CookieScheme;
                options.ResponseType = "code";
                options.UsePkce = true;
                options.MapInboundClaims = false;
                options.GetClaimsFromUserInfoEndpoint = true;
                // The id token is kept (inside the encrypted cookie) only as the hint for signing out at the provider.
                options.SaveTokens = true;
                options.Scope.Add("email");
                options.TokenValidationParameters.NameClaimType = "name";
            });
        }

        // The user id claim is a setting, so the policy is built once options are known.
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>()
            .Configure<IOptions<UserClaimsOptions>>((authorization, claims) =>
                authorization.AddPolicy(SignedInUserPolicy, policy => policy
                    .AddAuthenticationSchemes(ApiScheme)
                    .RequireAuthenticatedUser()
                    .RequireClaim(claims.Value.UserIdClaim)));

        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddRateLimiter(limiter => limiter.AddPolicy<string, PerUserRateLimit>(PerUserRateLimit.PolicyName));

        // Someone signed in through /bff/login can try the API in Swagger UI without a token: its fetch sends the
        // session cookie (same origin), and this adds the CSRF header cookie sessions need.
        builder.Services.Configure<SwaggerUIOptions>(ui =>
            ui.Interceptors.RequestInterceptorFunction = $"(request) => {{ request.headers['{CsrfHeader.Name}'] = '1'; return request; }}");
        return builder;
    }

    /// <summary>Every session gets an id, so that a logout link can prove it came from this session's page.</summary>
    private static void AddSessionId(ClaimsPrincipal principal)
    {
        if (principal.FindFirst("sid") is null && principal.Identity is ClaimsIdentity identity)
        {
            identity.AddClaim(new Claim("sid", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))));
        }
    }

    /// <summary>A 401 that says what was wrong with the bearer token; the token and the validator's internals are not repeated.</summary>
    private static Task WriteBearerChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var (detail, header) = context.AuthenticateFailure switch
        {
            null => ("A bearer token is required.", "Bearer"),
            SecurityTokenExpiredException => ("The bearer token has expired.", "Bearer error=\"invalid_token\", error_description=\"The token expired\""),
            _ => ("The bearer token is not valid.", "Bearer error=\"invalid_token\""),
        };
        return AuthProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, detail, header);
    }

    private static Task WriteForbiddenAsync(ForbiddenContext context) => WriteForbiddenAsync(context.HttpContext);

    private static Task WriteForbiddenAsync(HttpContext http) =>
        AuthProblems.WriteAsync(http, StatusCodes.Status403Forbidden, "The signed-in identity has no user id claim.", wwwAuthenticate: null);
}
