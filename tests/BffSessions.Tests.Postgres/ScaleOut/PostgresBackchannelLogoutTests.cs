using System.Net;
using System.Security.Cryptography;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// Back-channel logout across two instances on one PostgreSQL database: the provider may deliver a token to either, or
/// retry it at the other, and an attacker may replay a captured one at any of them. Each token is acted on once.
/// </summary>
public sealed class PostgresBackchannelLogoutTests : StandInTest
{
    private PostgresServer? _database;

    [SkippableFact]
    public async Task A_logout_token_delivered_to_two_instances_at_once_is_acted_on_once_and_refused_on_replay()
    {
        PostgresServer.Require();
        _database = await PostgresServer.StartAsync();
        var provider = new TestOpenIdProvider("https://idp.example", "bff-client", new RsaSecurityKey(RSA.Create(2048)) { KeyId = "provider-key" });
        var settings = new Dictionary<string, string?>(provider.Settings)
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:Customers"] = _database.ConnectionString("bffsessions"),
        };
        await using var a = new ApiFactory(Stripe, Logs, "Test", settings, provider.Configure);
        await using var b = new ApiFactory(Stripe, Logs, "Test", settings, provider.Configure);
        _ = a.Server; // migrates the shared database before the second instance starts
        using var signedOut = a.CreateApiClient();
        await SignInAsync(provider, signedOut, "pg-logout-user", "sid-1");
        var token = provider.LogoutToken("pg-logout-user", "jti-" + Guid.NewGuid().ToString("N"));

        var deliveries = await Task.WhenAll(PostAsync(a, token), PostAsync(b, token));
        using var signedInSince = b.CreateApiClient();
        await SignInAsync(provider, signedInSince, "pg-logout-user", "sid-2");
        using var replayAtA = await PostAsync(a, token);
        using var replayAtB = await PostAsync(b, token);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadRequest], deliveries.Select(d => d.StatusCode).Order());
        foreach (var response in deliveries.Where(d => d.StatusCode == HttpStatusCode.BadRequest).Append(replayAtA).Append(replayAtB))
        {
            var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal(IdentityProblems.InvalidLogoutToken.Type, problem.GetProperty("type").GetString());
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await UserStatusAsync(signedOut));
        Assert.Equal(HttpStatusCode.OK, await UserStatusAsync(signedInSince));
        foreach (var delivery in deliveries)
        {
            delivery.Dispose();
        }
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private static async Task SignInAsync(TestOpenIdProvider provider, HttpClient browser, string subject, string sid)
    {
        using var callback = await provider.SignInAsync(browser, subject, sid);
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
    }

    private static async Task<HttpResponseMessage> PostAsync(ApiFactory api, string token)
    {
        using var client = api.CreateApiClient();
        return await client.PostAsync("/bff/backchannel", new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = token }));
    }

    private static async Task<HttpStatusCode> UserStatusAsync(HttpClient browser)
    {
        using var user = await BffRequests.GetUserAsync(browser);
        return user.StatusCode;
    }
}
