using System.Net;
using System.Security.Claims;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Browser sign-in, named as in Duende BFF: /bff/login starts OpenID Connect (or, in Development without a
/// provider, shows a local form), /bff/logout ends the session, /bff/user tells the page who is signed in, and
/// /bff/backchannel lets the provider end sessions when the user signs out there.
/// </summary>
public static class BffEndpoints
{
    public static IEndpointRouteBuilder MapBff(this IEndpointRouteBuilder app)
    {
        var environment = app.ServiceProvider.GetRequiredService<IHostEnvironment>();
        var openIdConnect = app.ServiceProvider.GetRequiredService<IOptions<OpenIdConnectSettings>>().Value;
        var bff = app.MapGroup("/bff").WithTags("Browser session");

        if (openIdConnect.IsConfigured)
        {
            bff.MapGet("/login", Login).WithSummary("Sign in at the OpenID Connect provider, then return to returnUrl");
            bff.MapPost("/backchannel", (HttpContext http, BackchannelLogout logout) => logout.HandleAsync(http))
                .AllowAnonymous()
                .DisableAntiforgery()
                .WithSummary("OpenID Connect Back-Channel Logout: the provider ends sessions with a signed logout_token")
                .ProducesProblem(StatusCodes.Status400BadRequest);
        }
        else if (environment.IsDevelopment())
        {
            // Without a provider, Development offers a form to sign in as anyone. No other environment has it.
            bff.MapGet("/login", DevSignIn.Form).WithSummary("Development only: a form to sign in as any user");
            bff.MapPost("/login", DevSignIn.SignInAsync).DisableAntiforgery().WithMetadata(new SignsIn())
                .WithSummary("Development only: sign in as any user");
        }

        bff.MapMethods("/logout", [HttpMethods.Get, HttpMethods.Post], LogoutAsync)
            .WithSummary("End the browser session (and at the provider); GET needs the session's sid, POST the X-CSRF header");
        bff.MapGet("/user", UserAsync)
            .RequireCsrfHeader(cookieOnly: true)
            .WithSummary("The signed-in user's claims and session expiry (Duende BFF shape); 401 when signed out")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
    }

    private static Results<ChallengeHttpResult, ProblemHttpResult> Login(string? returnUrl)
    {
        returnUrl = ReturnUrls.OrRoot(returnUrl);
        return ReturnUrls.IsPlainLocalPath(returnUrl)
            ? TypedResults.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [IdentityExtensions.OidcScheme])
            : ReturnUrls.Refused();
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, IOptions<OpenIdConnectSettings> openIdConnect, string? sid, string? returnUrl)
    {
        returnUrl = ReturnUrls.OrRoot(returnUrl);
        if (!ReturnUrls.IsPlainLocalPath(returnUrl))
        {
            return ReturnUrls.Refused();
        }

        var session = await http.AuthenticateAsync(IdentityExtensions.CookieScheme);
        if (!session.Succeeded)
        {
            return TypedResults.Redirect(returnUrl);
        }

        // Another site must not be able to sign the user out: a GET proves itself with the session's id
        // (from /bff/user's bff:logout_url), a POST with the CSRF header.
        var proven = HttpMethods.IsPost(http.Request.Method)
            ? http.Request.Headers[CsrfHeader.Name] == "1"
            : sid is not null && sid == session.Principal!.FindFirstValue(BffClaims.SessionId);
        if (!proven)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, IdentityProblemTypes.LogoutNotConfirmed, "Logout not confirmed",
                "Use bff:logout_url from /bff/user, or POST with the X-CSRF: 1 header.");
        }

        // Signing out of the cookie deletes the session's row: every copy of the cookie, on every instance, is dead.
        var properties = new AuthenticationProperties { RedirectUri = returnUrl };
        var schemes = openIdConnect.Value.IsConfigured
            ? new[] { IdentityExtensions.CookieScheme, IdentityExtensions.OidcScheme }
            : [IdentityExtensions.CookieScheme];
        return TypedResults.SignOut(properties, schemes);
    }

    private static async Task<IResult> UserAsync(HttpContext http, TimeProvider time)
    {
        var session = await http.AuthenticateAsync(IdentityExtensions.CookieScheme);
        if (!session.Succeeded)
        {
            return TypedResults.Problem(AuthProblems.Create(StatusCodes.Status401Unauthorized, "No one is signed in."));
        }

        var claims = session.Principal!.Claims
            .Select(c => new BffClaim(c.Type, c.Value))
            .ToList();
        var expiresAt = session.Properties?.ExpiresUtc;
        if (expiresAt is not null)
        {
            var now = time.GetUtcNow();
            claims.Add(new BffClaim("bff:session_expires_in", (long)Math.Max(0, (expiresAt.Value - now).TotalSeconds)));
        }

        var sid = session.Principal!.FindFirstValue(BffClaims.SessionId);
        claims.Add(new BffClaim("bff:logout_url", $"/bff/logout?sid={WebUtility.UrlEncode(sid)}"));
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(claims);
    }

    /// <summary>One claim as Duende BFF's /bff/user returns it.</summary>
    public sealed record BffClaim(string Type, object Value);
}
