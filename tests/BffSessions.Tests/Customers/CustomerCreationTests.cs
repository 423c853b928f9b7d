using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Customers;

/// <summary>
/// Creating a user's Stripe customer against a Stripe that remembers: a failure Stripe keeps for an idempotency key
/// costs the user one request, never a day; an answer lost on the way back brings back the customer it made; and no
/// user ends up with two live customers.
/// </summary>
public sealed class CustomerCreationTests : StandInTest
{
    private const string CustomersPath = "/v1/customers";
    private static readonly object Request = new { components = new { customerSheet = new { enabled = true } } };

    [Fact]
    public async Task A_500_Stripe_keeps_for_the_creation_costs_the_user_that_request_and_the_next_one_succeeds()
    {
        // Every try of the first request (the call and its two retries) meets a stored 500.
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("stored-500-user", "ada@example.com");

        using var first = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        using var second = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        using var third = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(first, HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        var creations = Stripe.RequestsTo(CustomersPath);
        // Three spent keys, then a fourth that worked; never a key sent again after Stripe kept a 500 for it.
        Assert.Equal([500, 500, 500, 200], creations.Select(c => c.Status));
        Assert.Equal(4, creations.Select(c => c.IdempotencyKey).Distinct().Count());
        Assert.DoesNotContain(creations, c => c.Replayed);
        var customer = Assert.Single(Stripe.Customers, c => c.UserId == "stored-500-user").Id;
        Assert.Equal(customer, (await api.StoredLinkAsync("stored-500-user"))?.CustomerId);
    }

    [Fact]
    public async Task A_Stripe_500_is_not_retried_under_its_own_key_by_Stripe_net()
    {
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Times = 1 });
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("no-replay-user");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creations = Stripe.RequestsTo(CustomersPath);
        Assert.Equal([500, 200], creations.Select(c => c.Status));
        Assert.NotEqual(creations[0].IdempotencyKey, creations[1].IdempotencyKey);
    }

    [Fact]
    public async Task An_email_that_changed_after_a_failed_creation_is_no_idempotency_error()
    {
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs);
        using var before = api.CreateClientFor("changed-email-user", "old@example.com");
        using var after = api.CreateClientFor("changed-email-user", "new@example.com");

        using var failed = await before.PostAsJsonAsync("/api/customer-sessions", Request);
        using var retried = await after.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(failed, HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        var last = Stripe.RequestsTo(CustomersPath)[^1];
        Assert.Equal(200, last.Status);
        Assert.Equal("new@example.com", last.Form["email"]);
    }

    [Fact]
    public async Task An_answer_lost_on_the_way_back_is_asked_for_again_under_its_key_and_makes_exactly_one_customer()
    {
        // Stripe makes the customer every time, and every answer is lost: Stripe.net's retries and the next request
        // must all come back under the one key, whatever the user's claims say by then.
        Stripe.Inject(new Fault { Path = CustomersPath, Mode = FaultMode.Drop, Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs);
        using var before = api.CreateClientFor("lost-answer-user", "first@example.com");
        using var after = api.CreateClientFor("lost-answer-user", "second@example.com");

        using var lost = await before.PostAsJsonAsync("/api/customer-sessions", Request);
        using var found = await after.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.BadGateway, lost.StatusCode);
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        var creations = Stripe.RequestsTo(CustomersPath);
        Assert.Single(creations.Select(c => c.IdempotencyKey).Distinct());
        Assert.All(creations, c => Assert.Equal("first@example.com", c.Form["email"]));
        Assert.True(creations[^1].Replayed);
        var customer = Assert.Single(Stripe.AllCustomers, c => c.UserId == "lost-answer-user");
        Assert.Equal(customer.Id, (await found.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
        Assert.Equal(0, await AttemptsLeftAsync(api, "lost-answer-user"));
    }

    [Fact]
    public async Task A_customer_Stripe_made_behind_a_500_is_deleted_once_search_shows_it_and_the_user_keeps_one()
    {
        // Stripe makes the customer and answers 500 anyway: the outcome is unknown until search can show it.
        Stripe.Options.SearchLag = TimeSpan.FromSeconds(1);
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Mode = FaultMode.After, Times = 1 });
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:SearchLag"] = "00:00:01.500",
            ["Customers:SettleInterval"] = "01:00:00", // the test settles by hand, once the lag has passed
        });
        using var client = api.CreateClientFor("behind-a-500-user");
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        var kept = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString();
        Assert.Equal(2, Stripe.Customers.Count(c => c.UserId == "behind-a-500-user"));

        var settler = api.Services.GetRequiredService<CustomerCreationSettler>();
        Assert.Equal(0, await settler.SettleDueAsync(CancellationToken.None)); // too early: search would not show it yet
        await Task.Delay(TimeSpan.FromSeconds(1.6));
        Assert.Equal(1, await settler.SettleDueAsync(CancellationToken.None));

        Assert.Equal(kept, Assert.Single(Stripe.Customers, c => c.UserId == "behind-a-500-user").Id);
        Assert.Equal(2, Stripe.AllCustomers.Count(c => c.UserId == "behind-a-500-user"));
        Assert.Equal(kept, (await api.StoredLinkAsync("behind-a-500-user"))?.CustomerId);
        Assert.Equal(0, await AttemptsLeftAsync(api, "behind-a-500-user"));
        Assert.Single(Stripe.RequestsTo("/v1/customers/search"));
    }

    [Fact]
    public async Task A_user_who_never_came_back_after_a_500_gets_the_customer_Stripe_made_anyway()
    {
        Stripe.Options.SearchLag = TimeSpan.FromSeconds(1);
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Mode = FaultMode.After, Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:SearchLag"] = "00:00:01.500",
            ["Stripe:MaxNetworkRetries"] = "0",
            ["Customers:SettleInterval"] = "01:00:00",
        });
        using var client = api.CreateClientFor("gone-after-500-user");
        using var failed = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        await HttpAssert.ProblemAsync(failed, HttpStatusCode.BadGateway);
        var made = Assert.Single(Stripe.Customers, c => c.UserId == "gone-after-500-user").Id;

        await Task.Delay(TimeSpan.FromSeconds(1.6));
        await api.Services.GetRequiredService<CustomerCreationSettler>().SettleDueAsync(CancellationToken.None);
        Stripe.Reset();
        using var back = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal(made, (await back.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
        Assert.Empty(Stripe.RequestsTo(CustomersPath));
        Assert.Single(Stripe.Customers, c => c.UserId == "gone-after-500-user");
    }

    [Fact]
    public async Task A_name_Stripe_refuses_is_left_out_and_the_user_still_gets_a_session()
    {
        // A refusal this service's own rule did not foresee: Stripe stores nothing for a refused value.
        Stripe.Override(CustomersPath, (request, attempt) => request.Form.ContainsKey("name")
            ? StripeStandIn.Error(400, "invalid_request_error", "parameter_invalid_string", "Invalid name.", "name")
            : Stripe.Default(request));
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("refused-name-user", "ada@example.com", "Ada");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creations = Stripe.RequestsTo(CustomersPath);
        Assert.Equal([400, 200], creations.Select(c => c.Status));
        Assert.False(creations[1].Form.ContainsKey("name"));
        Assert.Equal("ada@example.com", creations[1].Form["email"]);
        Assert.Single(Logs.Events, e => e.MessageTemplate.Text.StartsWith("Stripe refused the {Field}", StringComparison.Ordinal));
    }

    private static async Task<int> AttemptsLeftAsync(ApiFactory api, string userId)
    {
        await using var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        return await db.Set<CustomerCreationAttempt>().CountAsync(a => a.UserId == userId);
    }
}
