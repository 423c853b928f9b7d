using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>GET or POST /bff/logout: ends the browser session here and, with a provider, there.</summary>
public static class LogoutEndpoint
{
    public static async Task<IResult> LogoutAsync(HttpContext http, IOptions<OpenIdConnectSettings> openIdConnect, string? sid, string? returnUrl)
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
            return IdentityProblems.LogoutNotConfirmed.Result("Use bff:logout_url from /bff/user, or POST with the X-CSRF: 1 header.");
        }

        // Signing out of the cookie deletes the session's row: every copy of the cookie, on every instance, is dead.
        var properties = new AuthenticationProperties { RedirectUri = returnUrl };
        var schemes = openIdConnect.Value.IsConfigured
            ? new[] { IdentityExtensions.CookieScheme, IdentityExtensions.OidcScheme }
            : [IdentityExtensions.CookieScheme];
        return TypedResults.SignOut(properties, schemes);
    }
}
