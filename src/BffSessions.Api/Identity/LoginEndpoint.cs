using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BffSessions.Api.Identity;

/// <summary>GET /bff/login: sign in at the OpenID Connect provider, then back to a plain local returnUrl.</summary>
public static class LoginEndpoint
{
    public static Results<ChallengeHttpResult, ProblemHttpResult> Login(string? returnUrl)
    {
        returnUrl = ReturnUrls.OrRoot(returnUrl);
        return ReturnUrls.IsPlainLocalPath(returnUrl)
            ? TypedResults.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [IdentityExtensions.OidcScheme])
            : ReturnUrls.Refused();
    }
}
