using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Customers;
using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.ScaleOut;

/// <summary>Two instances of the service sharing one PostgreSQL server and one counting Stripe stand-in.</summary>
public sealed class TwoInstancesFixture : TwoInstancesOnPostgres
{
    public const string WebhookSecret = "whsec_two_instances_test";

    /// <summary>Development, for the local sign-in form that issues the cookie; Stripe is still the stand-in.</summary>
    protected override string Environment => "Development";

    protected override IDictionary<string, string?> Settings(PostgresServer database) => new Dictionary<string, string?>
    {
        ["Database:Provider"] = "Postgres",
        ["ConnectionStrings:Customers"] = database.ConnectionString("bffsessions"),
        ["Stripe:WebhookSecrets:0"] = WebhookSecret,
        ["Customers:ForgottenCheckInterval"] = "00:00:00.200",
    };
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
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<CustomerSessionResponse>());
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
        using var signIn = await BffRequests.SignInAsync(a, "cookie-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var cookie = BffRequests.SessionCookieOf(signIn);

        using var b = fixture.B.CreateApiClient();
        using var response = await BffRequests.PostSessionAsync(b, cookie);

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
        Assert.Equal(original, creations[1].Form["metadata[replaces]"]);
        Assert.Equal(replacement, (await fixture.A.StoredLinkAsync(userId))?.CustomerId);
        Assert.Equal(replacement, await SessionCustomerAsync(fixture.B, userId));
    }

    /// <summary>
    /// The session lives in the shared database: signed in at A, the cookie works at B; signed out at A, every copy is
    /// dead at B too, at once.
    /// </summary>
    [SkippableFact]
    public async Task A_logout_at_one_instance_ends_the_session_at_the_other()
    {
        await StartAsync();
        using var atA = fixture.A.CreateApiClient();
        using var signIn = await BffRequests.SignInAsync(atA, "roaming-" + Guid.NewGuid().ToString("N"));
        var cookie = BffRequests.SessionCookieOf(signIn);
        using var atB = fixture.B.CreateApiClient();
        using var before = await BffRequests.GetUserAsync(atB, cookie);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        using var logout = await atA.SendAsync(BffRequests.WithCsrf(HttpMethod.Post, "/bff/logout"));

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        using var user = await BffRequests.GetUserAsync(atB, cookie);
        using var session = await BffRequests.PostSessionAsync(atB, cookie);
        await HttpAssert.ProblemAsync(user, HttpStatusCode.Unauthorized);
        await HttpAssert.ProblemAsync(session, HttpStatusCode.Unauthorized);
    }

    /// <summary>On PostgreSQL a subject of 300 characters, or one with NUL, is refused as a 403 before any call, not a 503 from the column.</summary>
    [SkippableTheory]
    [InlineData(300)]
    [InlineData(-1)]
    public async Task An_unusable_subject_is_a_403_before_PostgreSQL_or_Stripe_sees_it(int length)
    {
        await StartAsync();
        var subject = length > 0 ? new string('p', length) : "nul\0subject";
        using var client = fixture.A.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token(subject));
        var stripeCalls = fixture.Stripe.Requests.Count;

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal(stripeCalls, fixture.Stripe.Requests.Count);
    }

    /// <summary>
    /// Stripe tells one instance; the other stops using its cached copy within seconds, and the user it serves gets a
    /// new customer before any session call: no Stripe call fails on either instance.
    /// </summary>
    [SkippableFact]
    public async Task A_deleted_customer_reported_to_one_instance_is_replaced_first_on_the_other()
    {
        await StartAsync();
        var userId = "webhook-" + Guid.NewGuid().ToString("N");
        var original = await SessionCustomerAsync(fixture.A, userId);
        Assert.Equal(original, await SessionCustomerAsync(fixture.B, userId)); // B now serves it from memory
        Assert.True(fixture.Stripe.DeleteCustomer(original));
        var body = StripeEvents.CustomerDeleted(original);
        using var toA = fixture.A.CreateApiClient();
        var callsBefore = fixture.Stripe.Requests.Count;

        using var delivered = await StripeEvents.DeliverAsync(toA, body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, TwoInstancesFixture.WebhookSecret));
        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        var cacheOfB = fixture.B.Services.GetRequiredService<CustomerCache>();
        var key = new CustomerOwner(ApiFactory.Issuer, userId, null, null).Key;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cacheOfB.TryGet(key, out _) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var replacement = await SessionCustomerAsync(fixture.B, userId);

        Assert.NotEqual(original, replacement);
        var calls = fixture.Stripe.Requests.Skip(callsBefore).ToList();
        Assert.Equal(["/v1/customers", "/v1/customer_sessions"], calls.Select(c => c.Path));
        Assert.Equal(replacement, calls[1].Form["customer"]);
        Assert.Equal(replacement, (await fixture.A.StoredLinkAsync(userId))?.CustomerId);
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
        return (await response.Content.ReadFromJsonAsync<CustomerSessionResponse>())!.CustomerId!;
    }
}
