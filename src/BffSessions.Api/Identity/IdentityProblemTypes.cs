using BffSessions.Hosting;

namespace BffSessions.Api.Identity;

/// <summary>The problems of signing in and of the browser session (see the README's error table).</summary>
public static class IdentityProblemTypes
{
    public const string CsrfHeaderMissing = ProblemTypes.Prefix + "csrf-header-missing";
    public const string InvalidReturnUrl = ProblemTypes.Prefix + "invalid-return-url";
    public const string LogoutNotConfirmed = ProblemTypes.Prefix + "logout-not-confirmed";
    public const string CrossSiteSignIn = ProblemTypes.Prefix + "cross-site-sign-in";
    public const string SignInFailed = ProblemTypes.Prefix + "sign-in-failed";
    public const string InvalidLogoutToken = ProblemTypes.Prefix + "invalid-logout-token";
    public const string IdentityProviderUnreachable = ProblemTypes.Prefix + "identity-provider-unreachable";
}
