using BffSessions.Hosting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Browser sign-in, named as in Duende BFF, one handler each: /bff/login starts OpenID Connect (or, in Development
/// without a provider, shows a local form: <see cref="DevSignIn"/>), /bff/logout ends the session, /bff/user tells the
/// page who is signed in, and /bff/backchannel lets the provider end sessions when the user signs out there.
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
            bff.MapGet("/login", LoginEndpoint.Login).WithSummary("Sign in at the OpenID Connect provider, then return to returnUrl");
            bff.MapPost("/backchannel", (HttpContext http, BackchannelLogout logout) => logout.HandleAsync(http))
                .AllowAnonymous()
                .DisableAntiforgery()
                .WithSummary("OpenID Connect Back-Channel Logout: the provider ends sessions with a signed logout_token")
                .ProducesProblems(IdentityProblems.InvalidLogoutToken.Example(BackchannelLogout.InvalidDetail));
        }
        else if (environment.IsDevelopment())
        {
            // Without a provider, Development offers a form to sign in as anyone. No other environment has it.
            bff.MapGet("/login", DevSignIn.Form).WithSummary("Development only: a form to sign in as any user");
            bff.MapPost("/login", DevSignIn.SignInAsync).DisableAntiforgery().WithMetadata(new SignsIn())
                .WithSummary("Development only: sign in as any user");
        }

        bff.MapMethods("/logout", [HttpMethods.Get, HttpMethods.Post], LogoutEndpoint.LogoutAsync)
            .WithSummary("End the browser session (and at the provider); GET needs the session's sid, POST the X-CSRF header");
        bff.MapGet("/user", UserEndpoint.UserAsync)
            .RequireCsrfHeader(cookieOnly: true)
            .WithSummary("The signed-in user's claims and session expiry (Duende BFF shape); 401 when signed out")
            .ProducesProblems(CommonProblems.Unauthorized.Example(UserEndpoint.SignedOutDetail));
        return app;
    }
}
