using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

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
        // Stripe makes the customer and answers 500 anyway: the outcome is unknown until search can show it. The
        // stand-in's clock stands still, so its search shows nothing new until the test moves it on.
        var stripeClock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Stripe.Options.Time = stripeClock;
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Mode = FaultMode.After, Times = 1 });
        await using var api = Settling(Stripe, Logs);
        using var client = api.CreateClientFor("behind-a-500-user");
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        var kept = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString();
        Assert.Equal(2, Stripe.Customers.Count(c => c.UserId == "behind-a-500-user"));
        var settler = api.Services.GetRequiredService<CustomerCreationSettler>();

        await SettleAfterTheLagAsync(settler); // search does not show it yet: looked for again later
        Assert.Equal(2, Stripe.Customers.Count(c => c.UserId == "behind-a-500-user"));
        Assert.Equal(1, await AttemptsLeftAsync(api, "behind-a-500-user"));
        stripeClock.Advance(TimeSpan.FromMinutes(1));
        await SettleAfterTheLagAsync(settler);

        Assert.Equal(kept, Assert.Single(Stripe.Customers, c => c.UserId == "behind-a-500-user").Id);
        Assert.Equal(2, Stripe.AllCustomers.Count(c => c.UserId == "behind-a-500-user"));
        Assert.Equal(kept, (await api.StoredLinkAsync("behind-a-500-user"))?.CustomerId);
        Assert.Equal(0, await AttemptsLeftAsync(api, "behind-a-500-user"));
        Assert.Equal(2, Stripe.RequestsTo("/v1/customers/search").Count);
    }

    [Fact]
    public async Task A_user_who_never_came_back_after_a_500_gets_the_customer_Stripe_made_anyway()
    {
        var stripeClock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Stripe.Options.Time = stripeClock;
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Mode = FaultMode.After, Times = 1 });
        await using var api = Settling(Stripe, Logs, ("Stripe:MaxNetworkRetries", "0"));
        using var client = api.CreateClientFor("gone-after-500-user");
        using var failed = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        await HttpAssert.ProblemAsync(failed, HttpStatusCode.BadGateway);
        var made = Assert.Single(Stripe.Customers, c => c.UserId == "gone-after-500-user").Id;

        stripeClock.Advance(TimeSpan.FromMinutes(1));
        await SettleAfterTheLagAsync(api.Services.GetRequiredService<CustomerCreationSettler>());
        Stripe.Reset();
        using var back = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal(made, (await back.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
        Assert.Empty(Stripe.RequestsTo(CustomersPath));
        Assert.Single(Stripe.Customers, c => c.UserId == "gone-after-500-user");
    }

    [Fact]
    public async Task Attempts_that_cannot_be_settled_yet_do_not_hold_up_the_ones_that_can()
    {
        var stripeClock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Stripe.Options.Time = stripeClock;
        await using var api = Settling(Stripe, Logs);
        await using (var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            // Thirty Account v2 attempts left open two hours ago: Stripe holds their keys for 30 days, so they are not due.
            var twoHoursAgo = DateTime.UtcNow.AddHours(-2);
            db.AddRange(Enumerable.Range(0, 30).Select(i => new CustomerCreationAttempt
            {
                IdempotencyKey = $"bffsessions-account-{i:D32}", Issuer = ApiFactory.Issuer, UserId = $"open-account-{i}", Kind = CustomerKind.Account,
                State = CreationState.Pending, StartedAt = twoHoursAgo, UpdatedAt = twoHoursAgo,
            }));
            await db.SaveChangesAsync();
        }

        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Mode = FaultMode.After, Times = 1 });
        using var client = api.CreateClientFor("queued-behind-accounts");
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        stripeClock.Advance(TimeSpan.FromMinutes(1));
        await SettleAfterTheLagAsync(api.Services.GetRequiredService<CustomerCreationSettler>());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(Stripe.Customers, c => c.UserId == "queued-behind-accounts");
        Assert.Equal(30, await AttemptsLeftAsync(api, null));
    }

    /// <summary>
    /// Two processes on one SQLite file (no database lock between them) both replace a user's deleted customer: one
    /// repoints the map, the other finds it changed and answers with that customer, and its own is settled away.
    /// </summary>
    [Fact]
    public async Task Two_hosts_on_one_SQLite_file_replacing_at_once_leave_each_user_one_live_customer()
    {
        var stripeClock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var database = Path.Combine(Path.GetTempPath(), $"bffsessions-shared-{Guid.NewGuid():N}.db");
        var shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Customers"] = $"Data Source={database}",
            ["Stripe:SearchLag"] = SearchLag.ToString(),
            ["Customers:SettleInterval"] = "01:00:00",
        };
        try
        {
            await using var a = new ApiFactory(Stripe, Logs, settings: shared);
            await using var b = new ApiFactory(Stripe, Logs, settings: shared);
            var users = Enumerable.Range(0, 6).Select(i => $"shared-file-user-{i}").ToList();
            foreach (var user in users)
            {
                using var first = await a.CreateClientFor(user).PostAsJsonAsync("/api/customer-sessions", Request);
                Assert.True(Stripe.DeleteCustomer((await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!));
            }

            Stripe.Options.Time = stripeClock;
            Stripe.Options.Latency = TimeSpan.FromMilliseconds(300); // a window wide enough for both to create
            var answers = await Task.WhenAll(users.SelectMany(user => new[] { a, b }.Select(async host =>
            {
                using var response = await host.CreateClientFor(user).PostAsJsonAsync("/api/customer-sessions", Request);
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                return (user, response.StatusCode, Customer: body.TryGetProperty("customerId", out var id) ? id.GetString() : body.ToString());
            })));
            Stripe.Options.Latency = TimeSpan.Zero;
            stripeClock.Advance(TimeSpan.FromMinutes(1));
            await SettleAfterTheLagAsync(a.Services.GetRequiredService<CustomerCreationSettler>());

            Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
            foreach (var user in users)
            {
                var live = Assert.Single(Stripe.Customers, c => c.UserId == user).Id;
                Assert.Equal(live, (await a.StoredLinkAsync(user))?.CustomerId);
                Assert.All(answers.Where(x => x.user == user), x => Assert.Equal(live, x.Customer));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task A_409_for_a_key_still_running_is_not_a_spent_key()
    {
        // Stripe stores nothing for a 409: the first request with the key may still make the customer.
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 409, Type = "idempotency_error", Code = "idempotency_key_in_use", Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("conflicted-user");

        using var conflicted = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        using var later = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.BadGateway, conflicted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        var creations = Stripe.RequestsTo(CustomersPath);
        Assert.Single(creations.Select(c => c.IdempotencyKey).Distinct()); // Stripe.net's retries and the next request: one key
        Assert.Equal([409, 409, 409, 200], creations.Select(c => c.Status));
    }

    [Fact]
    public async Task A_request_spends_at_most_Stripe_Timeout_on_Stripe_however_many_attempts_it_starts()
    {
        Stripe.Options.Latency = TimeSpan.FromSeconds(1.2);
        Stripe.Inject(new Fault { Path = CustomersPath, Status = 500, Times = 3 });
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:Timeout"] = "00:00:02" });
        using var client = api.CreateClientFor("timed-user");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.Equal(PaymentProblems.StripeTimeout.Type, problem.GetProperty("type").GetString());
        // 1.2 s each: the second attempt started within the 2 s and was cut off; no third was started.
        Assert.Equal(2, Stripe.RequestsTo(CustomersPath).Count);
    }

    [Fact]
    public async Task Without_retries_a_name_Stripe_refuses_is_still_left_out_and_the_user_served()
    {
        Stripe.Override(CustomersPath, (request, attempt) => request.Form.ContainsKey("name")
            ? StripeStandIn.Error(400, "invalid_request_error", "parameter_invalid_string", "Invalid name.", "name")
            : Stripe.Default(request));
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:MaxNetworkRetries"] = "0" });
        using var client = api.CreateClientFor("refused-without-retries", "ada@example.com", "Ada");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([400, 200], Stripe.RequestsTo(CustomersPath).Select(c => c.Status));
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

    /// <summary>A host whose settling the test drives: Stripe's search lag set short, the settler's own rounds far apart.</summary>
    private static ApiFactory Settling(StripeStandIn stripe, LogCapture logs, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Stripe:SearchLag"] = SearchLag.ToString(),
            ["Customers:SettleInterval"] = "01:00:00",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return new ApiFactory(stripe, logs, settings: settings);
    }

    private static readonly TimeSpan SearchLag = TimeSpan.FromMilliseconds(200);

    /// <summary>One round of the settler, once the service's search lag has passed for what is due.</summary>
    private static async Task SettleAfterTheLagAsync(CustomerCreationSettler settler)
    {
        await Task.Delay(SearchLag * 2);
        await settler.SettleDueAsync(CancellationToken.None);
    }

    private static async Task<int> AttemptsLeftAsync(ApiFactory api, string? userId)
    {
        await using var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        return await db.Set<CustomerCreationAttempt>().CountAsync(a => userId == null || a.UserId == userId);
    }
}
