using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;

namespace BffSessions.Api.Identity;

/// <summary>What the provider's answer to a sign-in must hold before a session is stored, and how a failed one ends.</summary>
internal sealed class SignInEvents(IProblemDetailsService problems, CurrentUserAccessor users) : OpenIdConnectEvents
{
    /// <summary>
    /// The provider sent the user back signed in. Before a session is stored: the return URL must still be a plain
    /// local path, the identity must name a usable user (else a 403, before any database or Stripe call), and of the
    /// tokens only the id token is kept, as the hint for signing out at the provider; nothing here calls an API
    /// with the access or refresh token, so they are not stored.
    /// </summary>
    public override async Task TicketReceived(TicketReceivedContext context)
    {
        if (!ReturnUrls.IsPlainLocalPath(context.ReturnUri))
        {
            context.HandleResponse();
            await problems.WriteAsync(context.HttpContext, IdentityProblems.InvalidReturnUrl.Create(IdentityProblems.InvalidReturnUrlDetail));
            return;
        }

        if (context.Principal is null || !users.TryGet(context.Principal, out _))
        {
            context.HandleResponse();
            await problems.WriteAsync(context.HttpContext, CommonProblems.Forbidden.Create(IdentityProblems.NoUsableUserDetail), wwwAuthenticate: null);
            return;
        }

        var idToken = context.Properties?.GetTokenValue("id_token");
        context.Properties?.StoreTokens(idToken is null ? [] : [new AuthenticationToken { Name = "id_token", Value = idToken }]);
    }

    /// <summary>
    /// The provider's answer could not be used (the user declined, the state expired): a 400 problem, not a 500; or the
    /// provider could not be reached to redeem it: a 502.
    /// </summary>
    public override async Task RemoteFailure(RemoteFailureContext context)
    {
        context.HandleResponse();
        await problems.WriteAsync(context.HttpContext, IdentityProviderProblemHandler.IsProviderUnreachable(context.Failure)
            ? IdentityProblems.IdentityProviderUnreachable.Create(IdentityProblems.ProviderUnreachableDetail)
            : IdentityProblems.SignInFailed.Create("The identity provider's answer could not be used. Start again at /bff/login."));
    }
}
