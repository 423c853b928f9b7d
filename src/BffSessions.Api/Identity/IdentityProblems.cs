using BffSessions.Hosting;
using Microsoft.AspNetCore.Mvc;

namespace BffSessions.Api.Identity;

/// <summary>The problems of signing in and of the browser session (docs/api.md's error table), and their details.</summary>
public static class IdentityProblems
{
    /// <summary>A cookie session's API call without <c>X-CSRF: 1</c>: a 401, as any call without usable credentials.</summary>
    public static readonly ProblemKind CsrfHeaderMissing = new(StatusCodes.Status401Unauthorized, "csrf-header-missing", "Unauthorized");
    public static readonly ProblemKind InvalidReturnUrl = new(StatusCodes.Status400BadRequest, "invalid-return-url", "returnUrl must be a path on this site");
    public static readonly ProblemKind LogoutNotConfirmed = new(StatusCodes.Status400BadRequest, "logout-not-confirmed", "Logout not confirmed");
    public static readonly ProblemKind CrossSiteSignIn = new(StatusCodes.Status403Forbidden, "cross-site-sign-in", "Sign-in from another site refused");
    public static readonly ProblemKind SignInFailed = new(StatusCodes.Status400BadRequest, "sign-in-failed", "Sign-in did not complete");
    public static readonly ProblemKind InvalidLogoutToken = new(StatusCodes.Status400BadRequest, "invalid-logout-token", "Invalid logout token");
    public static readonly ProblemKind IdentityProviderUnreachable = new(StatusCodes.Status502BadGateway, "identity-provider-unreachable",
        "The identity provider could not be reached");

    public const string CsrfHeaderMissingDetail = $"Cookie-authenticated API calls must carry the header {CsrfHeader.Name}: 1.";

    public const string InvalidReturnUrlDetail =
        "Pass a plain local path such as /checkout; other sites, and paths with encoded slashes or non-ASCII characters, are not allowed.";

    public const string NoUsableUserDetail =
        "The signed-in identity names no usable user: it needs an issuer (iss) and a user id claim of 1 to 255 characters without control characters.";

    public const string InvalidTokenDetail = "The bearer token is not valid.";

    public const string ProviderUnreachableDetail = "Signing in or out needs the identity provider, which did not answer. Try again.";

    /// <summary>
    /// Writes a 401 or 403 <paramref name="problem"/>: APIs answer with a problem, never with a redirect to a login page;
    /// a 401 names the scheme that would do (RFC 6750 §3) in <paramref name="wwwAuthenticate"/>.
    /// </summary>
    public static Task WriteAsync(this IProblemDetailsService problems, HttpContext http, ProblemDetails problem, string? wwwAuthenticate)
    {
        if (wwwAuthenticate is not null)
        {
            http.Response.Headers.WWWAuthenticate = wwwAuthenticate;
        }

        return problems.WriteAsync(http, problem);
    }
}
