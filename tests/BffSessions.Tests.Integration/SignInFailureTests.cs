using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Tests;

/// <summary>An identity provider that is down, or a callback that cannot be used, is a precise problem, not a 500.</summary>
public sealed class SignInFailureTests : StandInTest
{
    private ApiFactory NewApi() => new(Stripe, Logs, "Production", new Dictionary<string, string?>
    {
        // Nothing listens there: the provider is down.
        ["Authentication:Schemes:OpenIdConnect:Authority"] = $"http://127.0.0.1:{FreePort()}",
        ["Authentication:Schemes:OpenIdConnect:ClientId"] = "bff-client",
        ["Authentication:Schemes:OpenIdConnect:ClientSecret"] = "not-used-here",
        ["Authentication:Schemes:OpenIdConnect:RequireHttpsMetadata"] = "false",
    });

    [Fact]
    public async Task Signing_in_while_the_provider_is_unreachable_is_a_502_problem()
    {
        await using var api = NewApi();

        using var response = await api.CreateApiClient().GetAsync("/bff/login?returnUrl=/checkout");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(IdentityProblems.IdentityProviderUnreachable.Type, problem.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("?error=access_denied&state=abc")]
    [InlineData("?code=replayed&state=forged")]
    [InlineData("")]
    public async Task A_callback_that_cannot_be_used_is_a_400_problem(string query)
    {
        await using var api = NewApi();

        using var response = await api.CreateApiClient().GetAsync("/signin-oidc" + query);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.SignInFailed.Type, problem.GetProperty("type").GetString());
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)));
    }

    /// <summary>
    /// What the provider's answer must hold before a session is stored, checked where the OpenID Connect handler hands
    /// it over (a real provider is not easily made to send these): a plain local return URL, and a usable user.
    /// </summary>
    [Theory]
    [InlineData("//evil.example/", "user-1", HttpStatusCode.BadRequest)]
    [InlineData("/%2F%2Fevil.example", "user-1", HttpStatusCode.BadRequest)]
    [InlineData("/checkout", "", HttpStatusCode.Forbidden)]
    [InlineData("/checkout", "user\u0007", HttpStatusCode.Forbidden)]
    [InlineData("/checkout", "\u202Euser", HttpStatusCode.Forbidden)]
    public async Task A_provider_answer_with_a_foreign_return_url_or_no_usable_user_stores_no_session(string returnUrl, string subject, HttpStatusCode status)
    {
        await using var api = NewApi();
        var context = TicketReceived(api, returnUrl, subject);

        await ((SignInEvents)api.Services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(IdentityExtensions.OidcScheme).Events).TicketReceived(context);

        Assert.True(context.Result?.Handled); // the handler stops: no cookie, no session row
        Assert.Equal((int)status, context.HttpContext.Response.StatusCode);
        context.HttpContext.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(context.HttpContext.Response.Body);
        Assert.StartsWith("urn:bffsessions:problem:", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Of_the_provider_tokens_only_the_id_token_is_kept_in_the_session()
    {
        await using var api = NewApi();
        var context = TicketReceived(api, "/checkout", "user-1");

        await ((SignInEvents)api.Services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(IdentityExtensions.OidcScheme).Events).TicketReceived(context);

        Assert.Null(context.Result); // the handler goes on to sign in
        Assert.Equal(["id_token"], context.Properties!.GetTokens().Select(t => t.Name));
    }

    /// <summary>
    /// RFC 7515 §4.1.11 holds for the id token as for bearer tokens: a provider's id token whose header has crit signs no
    /// one in. The same sign-in without it does, so the refusal is the header's alone.
    /// </summary>
    [Fact]
    public async Task An_id_token_with_crit_in_its_header_signs_no_one_in()
    {
        var provider = new TestOpenIdProvider("https://idp.example", "bff-client", new RsaSecurityKey(RSA.Create(2048)) { KeyId = "provider-key" });
        await using var api = new ApiFactory(Stripe, Logs, "Test", provider.Settings, provider.Configure);
        using var refused = api.CreateApiClient();
        using var accepted = api.CreateApiClient();

        using var withCrit = await provider.SignInAsync(refused, "crit-user", "sid-crit",
            new Dictionary<string, object> { ["crit"] = new[] { "urn:example:must-understand" }, ["urn:example:must-understand"] = true });
        using var withoutCrit = await provider.SignInAsync(accepted, "crit-user", "sid-plain");
        using var refusedUser = await BffRequests.GetUserAsync(refused);
        using var acceptedUser = await BffRequests.GetUserAsync(accepted);

        var problem = await HttpAssert.ProblemAsync(withCrit, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.SignInFailed.Type, problem.GetProperty("type").GetString());
        Assert.False(withCrit.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Unauthorized, refusedUser.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, withoutCrit.StatusCode);
        Assert.Equal(HttpStatusCode.OK, acceptedUser.StatusCode);
    }

    private static TicketReceivedContext TicketReceived(ApiFactory api, string returnUrl, string subject)
    {
        var http = new DefaultHttpContext { RequestServices = api.Services.CreateScope().ServiceProvider };
        http.Response.Body = new MemoryStream();
        var properties = new AuthenticationProperties();
        properties.StoreTokens(
        [
            new AuthenticationToken { Name = "id_token", Value = "id.token.value" },
            new AuthenticationToken { Name = "access_token", Value = "access.token.value" },
            new AuthenticationToken { Name = "refresh_token", Value = "refresh.token.value" },
        ]);
        var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim("iss", "https://idp.example.com/"), new Claim("sub", subject)], "oidc"));
        var options = api.Services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(IdentityExtensions.OidcScheme);
        var scheme = new AuthenticationScheme(IdentityExtensions.OidcScheme, null, typeof(OpenIdConnectHandler));
        return new TicketReceivedContext(http, scheme, options, new AuthenticationTicket(principal, properties, scheme.Name)) { ReturnUri = returnUrl };
    }
}
