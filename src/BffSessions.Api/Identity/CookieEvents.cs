using System.Security.Claims;
using System.Security.Cryptography;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// The session cookie's events: no redirects for APIs (a 401 or 403 problem instead), a session id for every new
/// session, and the server-side session's own rules (<see cref="BrowserSessionStore"/>).
/// </summary>
internal sealed class CookieEvents(
    IProblemDetailsService problems, BrowserSessionStore sessions, IOptions<OpenIdConnectSettings> openIdConnect, IHostEnvironment environment)
    : CookieAuthenticationEvents
{
    /// <summary>Only where /bff/login exists (a provider, or Development's form) is it worth naming.</summary>
    private readonly string _signIn = openIdConnect.Value.IsConfigured || environment.IsDevelopment()
        ? "Sign in at /bff/login, or send a bearer token."
        : "Send a bearer token (this deployment has no browser sign-in).";

    public override Task RedirectToLogin(RedirectContext<CookieAuthenticationOptions> context) =>
        problems.WriteAsync(context.HttpContext, CommonProblems.Unauthorized.Create(_signIn), "Bearer");

    public override Task RedirectToAccessDenied(RedirectContext<CookieAuthenticationOptions> context) =>
        problems.WriteAsync(context.HttpContext, CommonProblems.Forbidden.Create(IdentityProblems.NoUsableUserDetail), wwwAuthenticate: null);

    public override Task SigningIn(CookieSigningInContext context)
    {
        AddSessionId(context.Principal!);
        sessions.OnSigningIn(context);
        return Task.CompletedTask;
    }

    public override Task CheckSlidingExpiration(CookieSlidingExpirationContext context)
    {
        BrowserSessionStore.OnCheckSlidingExpiration(context);
        return Task.CompletedTask;
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
}
