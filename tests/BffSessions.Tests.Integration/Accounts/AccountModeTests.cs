using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Accounts;

/// <summary>Customers:Kind=Account: users are Accounts v2 with the customer configuration, and sessions use customer_account.</summary>
public sealed class AccountModeTests : StandInTest
{
    private const string AccountsPath = "/v2/core/accounts";
    private const string SessionsPath = "/v1/customer_sessions";
    private static readonly object MobileRequest = new { components = new { mobilePaymentElement = new { enabled = true } } };
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-accounts-{Guid.NewGuid():N}.db");
    private ApiFactory _api = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _api = Host("Account");
    }

    public override async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_database);
    }

    [Fact]
    public async Task A_new_user_becomes_an_Account_v2_with_the_customer_configuration_and_sessions_use_customer_account()
    {
        using var client = _api.CreateClientFor("account-user", "ada@example.com", "Ada Lovelace");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var created = Assert.Single(Stripe.RequestsTo(AccountsPath));
        Assert.Equal("POST", created.Method);
        Assert.StartsWith("application/json", created.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Equal(global::Stripe.StripeConfiguration.ApiVersion, created.Headers["Stripe-Version"]);
        Assert.Matches("^bffsessions-account-[0-9a-f]{32}$", created.Headers["Idempotency-Key"]);
        var body = created.Json!;
        Assert.Equal("ada@example.com", body["contact_email"]!.GetValue<string>());
        Assert.Equal("Ada Lovelace", body["display_name"]!.GetValue<string>());
        Assert.Equal("account-user", body["metadata"]!["user_id"]!.GetValue<string>());
        Assert.Equal("{}", body["configuration"]!["customer"]!.ToJsonString());
        Assert.Equal(["configuration", "contact_email", "display_name", "metadata"], body.Select(p => p.Key).Order(StringComparer.Ordinal));

        var session = Assert.Single(Stripe.RequestsTo(SessionsPath));
        var accountId = Stripe.Accounts.Single().Id;
        Assert.Equal(accountId, session.Form["customer_account"]);
        Assert.False(session.Form.ContainsKey("customer"));
        Assert.Empty(Stripe.RequestsTo("/v1/customers"));
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(accountId, answer.GetProperty("customerId").GetString());
        Assert.Equal((accountId, CustomerKind.Account), await _api.StoredLinkAsync("account-user"));
    }

    [Fact]
    public async Task Concurrent_first_requests_create_one_account()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = _api.CreateClientFor("racing-account-user");
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Single(Stripe.RequestsTo(AccountsPath));
        Assert.Equal(Stripe.Accounts.Single().Id, Assert.Single(answers.Select(a => a.Item2).Distinct()));
    }

    /// <summary>
    /// API v2 finishes failed work when asked again under the same key (and keeps keys 30 days), so a 5xx there is
    /// retried under its own key: the account Stripe made behind the 500 is the answer, and no second one is made.
    /// </summary>
    [Fact]
    public async Task A_v2_500_is_retried_under_its_own_key_and_the_account_made_behind_it_is_the_users()
    {
        Stripe.Inject(new Fault { Path = AccountsPath, Status = 500, Mode = FaultMode.After });
        using var client = _api.CreateClientFor("v2-500-user");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creations = Stripe.RequestsTo(AccountsPath);
        Assert.Equal([500, 200], creations.Select(c => c.Status));
        Assert.Single(creations.Select(c => c.IdempotencyKey).Distinct());
        var account = Assert.Single(Stripe.Accounts, a => a.UserId == "v2-500-user").Id;
        Assert.Equal(account, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
    }

    [Fact]
    public async Task A_deleted_account_is_replaced_once_and_the_session_retried()
    {
        using var client = _api.CreateClientFor("healing-account-user");
        using var first = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);
        var original = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!;
        Assert.True(Stripe.DeleteCustomer(original));

        var healed = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!;
        }));

        var replacement = Assert.Single(healed.Distinct());
        Assert.StartsWith("acct_", replacement, StringComparison.Ordinal);
        Assert.NotEqual(original, replacement);
        var creations = Stripe.RequestsTo(AccountsPath);
        Assert.Equal(2, creations.Count);
        Assert.Equal(original, creations[1].Json!["metadata"]!["replaces"]!.GetValue<string>());
        Assert.Equal((replacement, CustomerKind.Account), await _api.StoredLinkAsync("healing-account-user"));
    }

    [Fact]
    public async Task Switching_kinds_keeps_existing_users_on_their_customer_and_gives_new_users_accounts()
    {
        await using (var before = Host("Customer"))
        {
            using var client = before.CreateClientFor("long-time-user");
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest)).StatusCode);
        }

        var customer = Stripe.Customers.Single().Id;
        using var existing = _api.CreateClientFor("long-time-user");
        using var newcomer = _api.CreateClientFor("new-account-user");

        using var kept = await existing.PostAsJsonAsync("/api/customer-sessions", MobileRequest);
        using var fresh = await newcomer.PostAsJsonAsync("/api/customer-sessions", MobileRequest);

        Assert.Equal(customer, (await kept.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString());
        var sessions = Stripe.RequestsTo(SessionsPath);
        Assert.Equal(customer, sessions[^2].Form["customer"]);
        Assert.StartsWith("acct_", (await fresh.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("acct_", sessions[^1].Form["customer_account"], StringComparison.Ordinal);
        Assert.Equal((customer, CustomerKind.Customer), await _api.StoredLinkAsync("long-time-user"));
    }

    [Fact]
    public async Task In_Development_the_offline_stand_in_answers_the_account_call_too()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Stripe:SecretKey"] = "",
            ["Customers:Kind"] = "Account",
        });
        using var client = api.CreateClientFor("offline-account-user", "offline@example.com");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", MobileRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("acct_", answer.GetProperty("customerId").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("cuss_secret_", answer.GetProperty("clientSecret").GetString(), StringComparison.Ordinal);
        Assert.Empty(Stripe.Requests);
    }

    private ApiFactory Host(string kind) => new(Stripe, Logs, settings: new Dictionary<string, string?>
    {
        ["Customers:Kind"] = kind,
        ["ConnectionStrings:Customers"] = $"Data Source={_database}",
    });

}
