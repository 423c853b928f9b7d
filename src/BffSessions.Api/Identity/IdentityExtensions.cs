using System.Security.Claims;
using System.Security.Cryptography;
using BffSessions.Api.Data;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Swashbuckle.AspNetCore.SwaggerUI;

namespace BffSessions.Api.Identity;

public static partial class IdentityExtensions
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
        builder.Services.AddSingleton<BrowserSessionStore>();
        builder.Services.AddSingleton<BrowserSessions>();
        builder.Services.AddSingleton<BackchannelLogout>();
        builder.Services.AddSingleton<SeenLogoutTokens>();
        builder.Services.AddHostedService<ExpiredSessionCleanup>();
        builder.Services.AddExceptionHandler<IdentityProviderProblemHandler>();

        var authentication = builder.Services.AddAuthentication(ApiScheme)
            .AddPolicyScheme(ApiScheme, "Bearer token or session cookie", options =>
                options.ForwardDefaultSelector = http => UsesBearer(http.Request) ? JwtBearerDefaults.AuthenticationScheme : CookieScheme)
            // Binds Authentication:Schemes:Bearer (Authority, ValidAudiences, ValidIssuer, SigningKeys),
            // the section `dotnet user-jwts` writes.
            .AddJwtBearer(options =>
            {
                // Keep claim names as the token has them ("sub", "email"), not WS-Federation URIs.
                options.MapInboundClaims = false;
                // The one handler refuses tokens with a crit header (RFC 7515 §4.1.11). It replaces the default handler,
                // which options.MapInboundClaims sets, so it is told the same itself.
                options.TokenHandlers.Clear();
                options.TokenHandlers.Add(new CriticalHeaderRefusingTokenHandler { MapInboundClaims = false });
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
            });
        // The session lives in the database; the cookie carries only its key (BrowserSessionStore). All of the
        // cookie's events are here.
        builder.Services.AddOptions<CookieAuthenticationOptions>(CookieScheme)
            .Configure<IOptions<BffOptions>, BrowserSessionStore, IOptions<OpenIdConnectSettings>, IHostEnvironment>((cookie, bff, sessions, openIdConnect, environment) =>
            {
                cookie.ExpireTimeSpan = bff.Value.SessionIdleTimeout;
                cookie.SessionStore = sessions;
                // Only where /bff/login exists (a provider, or Development's form) is it worth naming.
                var signIn = openIdConnect.Value.IsConfigured || environment.IsDevelopment()
                    ? "Sign in at /bff/login, or send a bearer token."
                    : "Send a bearer token (this deployment has no browser sign-in).";
                cookie.Events = new CookieAuthenticationEvents
                {
                    OnRedirectToLogin = context => AuthProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, signIn),
                    OnRedirectToAccessDenied = context => WriteForbiddenAsync(context.HttpContext),
                    OnSigningIn = context =>
                    {
                        AddSessionId(context.Principal!);
                        sessions.OnSigningIn(context);
                        return Task.CompletedTask;
                    },
                    OnCheckSlidingExpiration = context =>
                    {
                        BrowserSessionStore.OnCheckSlidingExpiration(context);
                        return Task.CompletedTask;
                    },
                };
            });
        // ASP.NET Core binds SigningKeys as a lazy sequence over configuration, forgetting which issuer each key is for,
        // and the handler copies its validation parameters on every request. Each key is bound to its issuer instead
        // (a key vouches for no other issuer's users), read once, and again only when the section changes: a key
        // `dotnet user-jwts create` writes into the user secrets is picked up without a restart. Read at start-up too,
        // so that a key that cannot be used stops the service with one line naming it.
        builder.Services.AddSingleton<IOptionsChangeTokenSource<JwtBearerOptions>>(new ConfigurationChangeTokenSource<JwtBearerOptions>(
            JwtBearerDefaults.AuthenticationScheme, builder.Configuration.GetSection("Authentication:Schemes:" + JwtBearerDefaults.AuthenticationScheme)));
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .PostConfigure<IAuthenticationConfigurationProvider>((options, settings) => IssuerBoundSigningKeys.Bind(
                options.TokenValidationParameters, settings.GetSchemeConfiguration(JwtBearerDefaults.AuthenticationScheme)))
            .ValidateOnStart();
        // One line per refused token, naming the kind of failure only: never the token, nor the header or claim values
        // it carried (ASP.NET Core's own, longer lines about it are turned down to Warning in appsettings.json).
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<ILoggerFactory>((options, loggers) =>
        {
            var logger = loggers.CreateLogger(typeof(IdentityExtensions));
            options.Events.OnAuthenticationFailed = context =>
            {
                Log.BadToken(logger, context.Exception.GetType().Name);
                return Task.CompletedTask;
            };
        });

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
                // The id token is read by the handler that refuses crit (RFC 7515 §4.1.11), as bearer tokens are; never by
                // the older JwtSecurityTokenHandler, which a setting could otherwise choose and which ignores crit.
                options.UseSecurityTokenValidator = false;
                options.TokenHandler = new CriticalHeaderRefusingTokenHandler { MapInboundClaims = false };
                options.MapInboundClaims = false;
                // Users are issuer + subject: keep the id token's iss, which the handler drops by default. And whether the
                // email is verified, when the provider says so at its userinfo endpoint only (the handler maps email, not this).
                options.ClaimActions.Remove(CurrentUserAccessor.IssuerClaim);
                options.ClaimActions.MapUniqueJsonKey("email_verified", "email_verified");
                options.GetClaimsFromUserInfoEndpoint = true;
                options.SaveTokens = true;
                options.Scope.Add("email");
                options.TokenValidationParameters.NameClaimType = "name";
            });
            builder.Services.AddOptions<OpenIdConnectOptions>(OidcScheme).Configure<CurrentUserAccessor>((options, users) =>
                options.Events = new OpenIdConnectEvents
                {
                    OnTicketReceived = context => AcceptSignInAsync(context, users),
                    OnRemoteFailure = RefuseFailedSignInAsync,
                });
        }

        // The user id claim is a setting, so the policy is built once options are known.
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>()
            .Configure<CurrentUserAccessor>((authorization, users) =>
                authorization.AddPolicy(SignedInUserPolicy, policy => policy
                    .AddAuthenticationSchemes(ApiScheme)
                    .RequireAuthenticatedUser()
                    .RequireAssertion(context => users.TryGet(context.User, out _))));

        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.Configure<Microsoft.AspNetCore.RateLimiting.RateLimiterOptions>(limiter =>
            limiter.AddPolicy<string, PerUserRateLimit>(PerUserRateLimit.PolicyName));
        // Instances that share a PostgreSQL database share each user's bucket: N instances must not mean N times the limit.
        if (DataExtensions.ReadProvider(builder.Configuration) == DatabaseProvider.Postgres)
        {
            builder.Services.AddSingleton<SharedUserBuckets>();
            builder.Services.AddHostedService(services => services.GetRequiredService<SharedUserBuckets>());
        }

        // Someone signed in through /bff/login can try the API in Swagger UI without a token: its fetch sends the
        // session cookie (same origin), and this adds the CSRF header cookie sessions need.
        builder.Services.Configure<SwaggerUIOptions>(ui =>
            ui.Interceptors.RequestInterceptorFunction = $"(request) => {{ request.headers['{CsrfHeader.Name}'] = '1'; return request; }}");
        return builder;
    }

    /// <summary>
    /// Every session gets an id, so that a logout link can prove it came from this session's page: the provider's
    /// <c>sid</c> when it sends one (back-channel logout names sessions by it), else one of our own.
    /// </summary>
    private static void AddSessionId(ClaimsPrincipal principal)
    {
        if (principal.FindFirst(BffClaims.SessionId) is null && principal.Identity is ClaimsIdentity identity)
        {
            identity.AddClaim(new Claim(BffClaims.SessionId, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))));
        }
    }

    /// <summary>
    /// The provider sent the user back signed in. Before a session is stored: the return URL must still be a plain
    /// local path, the identity must name a usable user (else a 403, before any database or Stripe call), and of the
    /// tokens only the id token is kept, as the hint for signing out at the provider; nothing here calls an API
    /// with the access or refresh token, so they are not stored.
    /// </summary>
    internal static async Task AcceptSignInAsync(TicketReceivedContext context, CurrentUserAccessor users)
    {
        if (!ReturnUrls.IsPlainLocalPath(context.ReturnUri))
        {
            context.HandleResponse();
            await Problems.WriteAsync(context.HttpContext, ReturnUrls.Refused().ProblemDetails);
            return;
        }

        if (context.Principal is null || !users.TryGet(context.Principal, out _))
        {
            context.HandleResponse();
            await AuthProblems.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, NoUsableUser, wwwAuthenticate: null);
            return;
        }

        var idToken = context.Properties?.GetTokenValue("id_token");
        context.Properties?.StoreTokens(idToken is null ? [] : [new AuthenticationToken { Name = "id_token", Value = idToken }]);
    }

    /// <summary>
    /// The provider's answer could not be used (the user declined, the state expired): a 400 problem, not a 500; or the
    /// provider could not be reached to redeem it: a 502.
    /// </summary>
    private static async Task RefuseFailedSignInAsync(RemoteFailureContext context)
    {
        context.HandleResponse();
        await Problems.WriteAsync(context.HttpContext, IdentityProviderProblemHandler.IsProviderUnreachable(context.Failure)
            ? IdentityProviderProblemHandler.Unreachable()
            : Problems.Create(StatusCodes.Status400BadRequest, IdentityProblemTypes.SignInFailed,
                "Sign-in did not complete", "The identity provider's answer could not be used. Start again at /bff/login."));
    }

    /// <summary>A 401 that says what was wrong with the bearer token; the token and the validator's internals are not repeated.</summary>
    private static Task WriteBearerChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var (detail, header) = context.AuthenticateFailure switch
        {
            null => ("A bearer token is required.", "Bearer"),
            SecurityTokenExpiredException => ("The bearer token has expired.", "Bearer error=\"invalid_token\", error_description=\"The token expired\""),
            SecurityTokenSignatureKeyNotFoundException => ("The bearer token is signed by a key this service does not know. (A key `dotnet user-jwts create` " +
                "has just written is read within seconds; a token from another provider needs that provider's keys.)", "Bearer error=\"invalid_token\""),
            SecurityTokenInvalidIssuerException => ("The bearer token's issuer (iss) is not one this service trusts.", "Bearer error=\"invalid_token\""),
            SecurityTokenInvalidAudienceException => ("The bearer token's audience (aud) is not this service.", "Bearer error=\"invalid_token\""),
            SecurityTokenUnsupportedCriticalHeaderException => ("The bearer token's header has crit: it names extensions this service would have to " +
                "understand, and it understands none.", "Bearer error=\"invalid_token\""),
            _ => ("The bearer token is not valid.", "Bearer error=\"invalid_token\""),
        };
        return AuthProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, detail, header);
    }

    private static Task WriteForbiddenAsync(ForbiddenContext context) => WriteForbiddenAsync(context.HttpContext);

    internal const string NoUsableUser =
        "The signed-in identity names no usable user: it needs an issuer (iss) and a user id claim of 1 to 255 characters without control characters.";

    private static Task WriteForbiddenAsync(HttpContext http) =>
        AuthProblems.WriteAsync(http, StatusCodes.Status403Forbidden, NoUsableUser, wwwAuthenticate: null);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Refused a bearer token: {Failure}")]
        public static partial void BadToken(ILogger logger, string failure);
    }
}
