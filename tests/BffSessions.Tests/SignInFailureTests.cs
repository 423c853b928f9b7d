using System.Net;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;

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
        Assert.Equal(IdentityProblemTypes.IdentityProviderUnreachable, problem.GetProperty("type").GetString());
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
        Assert.Equal(IdentityProblemTypes.SignInFailed, problem.GetProperty("type").GetString());
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)));
    }
}
