using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// The authentication schemes, as Duende BFF arranges them: a bearer token (mobile app, SPA) or the browser's session
/// cookie, chosen per request by <see cref="IdentityExtensions.ApiScheme"/>; the cookie's session lives on the server
/// (<see cref="BrowserSessionStore"/>) and is signed in by OpenID Connect when a provider is configured. Each scheme's
/// events are a class of their own, given what they need when the scheme's options are built.
/// </summary>
internal static class AuthenticationSchemes
{
    public static void Add(IHostApplicationBuilder builder)
    {
        var authentication = builder.Services.AddAuthentication(IdentityExtensions.ApiScheme)
            .AddPolicyScheme(IdentityExtensions.ApiScheme, "Bearer token or session cookie", options =>
                options.ForwardDefaultSelector = http => IdentityExtensions.UsesBearer(http.Request) ? JwtBearerDefaults.AuthenticationScheme : IdentityExtensions.CookieScheme)
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
            })
            .AddCookie(IdentityExtensions.CookieScheme, options =>
            {
                options.Cookie.Name = IdentityExtensions.CookieName;
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
        // Events are made anew with each build of the options (the bearer's are built again when the signing keys change).
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<IProblemDetailsService, ILogger<BearerEvents>>(
            (options, problems, logger) => options.Events = new BearerEvents(problems, logger));
        // The session lives in the database; the cookie carries only its key.
        builder.Services.AddOptions<CookieAuthenticationOptions>(IdentityExtensions.CookieScheme)
            .Configure<IOptions<BffOptions>, BrowserSessionStore, IProblemDetailsService, IOptions<OpenIdConnectSettings>, IHostEnvironment>(
                (cookie, bff, sessions, problems, openIdConnect, environment) =>
                {
                    cookie.ExpireTimeSpan = bff.Value.SessionIdleTimeout;
                    cookie.SessionStore = sessions;
                    cookie.Events = new CookieEvents(problems, sessions, openIdConnect, environment);
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

        // Whether the scheme exists at all must be known while registering: an OpenID Connect handler without a
        // provider would fail on every request. The same section is bound into OpenIdConnectSettings for the rest.
        if (builder.Configuration.GetSection(OpenIdConnectSettings.SectionName).Get<OpenIdConnectSettings>() is { IsConfigured: true })
        {
            authentication.AddOpenIdConnect(IdentityExtensions.OidcScheme, options =>
            {
                // Authority, ClientId, ClientSecret, Scope, RequireHttpsMetadata … as named in the section.
                builder.Configuration.GetSection(OpenIdConnectSettings.SectionName).Bind(options);
                options.SignInScheme = IdentityExtensions.CookieScheme;
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
            builder.Services.AddOptions<OpenIdConnectOptions>(IdentityExtensions.OidcScheme).Configure<IProblemDetailsService, CurrentUserAccessor>(
                (options, problems, users) => options.Events = new SignInEvents(problems, users));
        }

        // The user id claim is a setting, so the policy is built once options are known.
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>()
            .Configure<CurrentUserAccessor>((authorization, users) =>
                authorization.AddPolicy(IdentityExtensions.SignedInUserPolicy, policy => policy
                    .AddAuthenticationSchemes(IdentityExtensions.ApiScheme)
                    .RequireAuthenticatedUser()
                    .RequireAssertion(context => users.TryGet(context.User, out _))));
    }
}
