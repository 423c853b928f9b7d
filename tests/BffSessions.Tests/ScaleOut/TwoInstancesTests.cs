using System.Net;
using System.Net.Http.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.ScaleOut;

/// <summary>Two instances of the service sharing one PostgreSQL server and one counting Stripe stand-in.</summary>
public sealed class TwoInstancesFixture : IAsyncLifetime
{
    public PostgresServer Database { get; private set; } = null!;

    public StripeStandIn Stripe { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public ApiFactory A { get; private set; } = null!;

    public ApiFactory B { get; private set; } = null!;

    private bool _started;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task EnsureStartedAsync()
    {
        if (_started)
        {
            return;
        }

        Database = await PostgresServer.StartAsync();
        Stripe = await StripeStandIn.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:Customers"] = Database.ConnectionString("bffsessions"),
        };
        // Development, for the local sign-in form that issues the cookie; Stripe is still the stand-in.
        A = new ApiFactory(Stripe, Logs, "Development", settings);
        B = new ApiFactory(Stripe, Logs, "Development", settings);
        _ = A.Server; // migrates the shared database
        _ = B.Server;
        _started = true;
    }

    public async Task DisposeAsync()
    {
        if (!_started)
        {
            return;
        }

        await A.DisposeAsync();
        await B.DisposeAsync();
        await Stripe.DisposeAsync();
        await Database.DisposeAsync();
        Assert.Empty(Secrets.FoundIn(Logs.Lines));
    }
}

public sealed class TwoInstancesTests(TwoInstancesFixture fixture) : IClassFixture<TwoInstancesFixture>
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    [SkippableFact]
    public async Task Fifty_concurrent_first_requests_across_two_instances_create_exactly_one_customer()
    {
        await StartAsync();
        var userId = "race-" + Guid.NewGuid().ToString("N");

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var client = (i % 2 == 0 ? fixture.A : fixture.B).CreateClientFor(userId, $"{userId}@example.com");
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<SessionBody>());
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Single(fixture.Stripe.RequestsTo("/v1/customers"), c => c.Form["metadata[user_id]"] == userId);
        var customerId = Assert.Single(answers.Select(a => a.Body!.CustomerId).Distinct());
        Assert.Equal(50, fixture.Stripe.RequestsTo("/v1/customer_sessions").Count(s => s.Form["customer"] == customerId));
        Assert.Equal(customerId, (await fixture.B.StoredLinkAsync(userId))?.CustomerId);
    }

    [SkippableFact]
    public async Task A_session_cookie_issued_by_one_instance_is_accepted_by_the_other()
    {
        await StartAsync();
        using var a = fixture.A.CreateApiClient();
        using var signIn = await a.PostAsync("/bff/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userId"] = "cookie-" + Guid.NewGuid().ToString("N"),
            ["returnUrl"] = "/",
        }));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)).Split(';')[0];

        using var b = fixture.B.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = JsonContent.Create(Request) };
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("X-CSRF", "1");
        using var response = await b.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [SkippableFact]
    public async Task A_customer_deleted_in_Stripe_is_replaced_once_while_both_instances_race_to_heal_it()
    {
        await StartAsync();
        var userId = "heal-" + Guid.NewGuid().ToString("N");
        var original = await SessionCustomerAsync(fixture.A, userId);
        Assert.Equal(original, await SessionCustomerAsync(fixture.B, userId)); // both instances now cache it
        Assert.True(fixture.Stripe.DeleteCustomer(original));

        var healed = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => SessionCustomerAsync(i % 2 == 0 ? fixture.A : fixture.B, userId)));

        var replacement = Assert.Single(healed.Distinct());
        Assert.NotEqual(original, replacement);
        var creations = fixture.Stripe.RequestsTo("/v1/customers").Where(c => c.Form["metadata[user_id]"] == userId).ToList();
        Assert.Equal(2, creations.Count); // the original and exactly one replacement
        Assert.EndsWith("-replacing-" + original, creations[1].Headers["Idempotency-Key"], StringComparison.Ordinal);
        Assert.Equal(replacement, (await fixture.A.StoredLinkAsync(userId))?.CustomerId);
        Assert.Equal(replacement, await SessionCustomerAsync(fixture.B, userId));
    }

    private async Task StartAsync()
    {
        PostgresServer.Require();
        await fixture.EnsureStartedAsync();
    }

    private static async Task<string> SessionCustomerAsync(ApiFactory api, string userId)
    {
        using var client = api.CreateClientFor(userId);
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<SessionBody>())!.CustomerId!;
    }


    private sealed record SessionBody(string ClientSecret, DateTime ExpiresAt, string? CustomerId);
}
