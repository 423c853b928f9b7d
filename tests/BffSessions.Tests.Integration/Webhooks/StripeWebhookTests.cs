using System.Net;
using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Api.Webhooks;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Webhooks;

/// <summary>Signed Stripe events keep the customer map right, before any user trips over a deleted customer.</summary>
public sealed class StripeWebhookTests : StandInTest
{
    private const string Secret = "whsec_test_destination_one";
    private const string RolledSecret = "whsec_test_destination_two";
    private const string SessionsPath = "/v1/customer_sessions";
    private const string CustomersPath = "/v1/customers";

    private ApiFactory NewApi(string kind = "Customer", params string[] secrets) => new(Stripe, Logs, "Test", new Dictionary<string, string?>
    {
        ["Stripe:WebhookSecrets:0"] = secrets.ElementAtOrDefault(0) ?? Secret,
        ["Stripe:WebhookSecrets:1"] = secrets.ElementAtOrDefault(1) ?? RolledSecret,
        ["Customers:Kind"] = kind,
    });

    [Fact]
    public async Task A_deleted_customer_is_replaced_before_the_users_next_session_and_no_Stripe_call_fails()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("deleted-in-dashboard");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        Assert.True(Stripe.DeleteCustomer(original));
        Stripe.Reset();

        using var delivered = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted(original));
        var replacement = await BffRequests.CustomerOfSessionAsync(user);

        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        Assert.NotEqual(original, replacement);
        // The creation first, then the session for the new customer: no call for the deleted one, so none failed.
        Assert.Equal([CustomersPath, SessionsPath], Stripe.Requests.Select(r => r.Path));
        var creation = Stripe.RequestsTo(CustomersPath).Single();
        Assert.Equal(original, creation.Form["metadata[replaces]"]);
        Assert.Equal(replacement, Stripe.RequestsTo(SessionsPath).Single().Form["customer"]);
        Assert.Equal(replacement, (await api.StoredLinkAsync("deleted-in-dashboard"))?.CustomerId);
    }

    [Fact]
    public async Task A_closed_account_from_a_thin_event_is_replaced_the_same_way()
    {
        await using var api = NewApi(kind: "Account");
        using var user = api.CreateClientFor("closed-account-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        Assert.StartsWith("acct_", original, StringComparison.Ordinal);
        Assert.True(Stripe.DeleteCustomer(original));
        Stripe.Reset();

        using var delivered = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.AccountClosed(original));
        var replacement = await BffRequests.CustomerOfSessionAsync(user);

        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        Assert.StartsWith("acct_", replacement, StringComparison.Ordinal);
        Assert.Equal(["/v2/core/accounts", SessionsPath], Stripe.Requests.Select(r => r.Path));
        Assert.Equal(replacement, Stripe.RequestsTo(SessionsPath).Single().Form["customer_account"]);
    }

    [Fact]
    public async Task The_same_event_delivered_twice_does_nothing_the_second_time()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("twice-told-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.CustomerDeleted(original);
        using var first = await StripeEvents.DeliverAsync(api, Secret, body);
        var replacement = await BffRequests.CustomerOfSessionAsync(user);
        Stripe.Reset();

        using var second = await StripeEvents.DeliverAsync(api, Secret, body);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(replacement, await BffRequests.CustomerOfSessionAsync(user));
        Assert.Empty(Stripe.RequestsTo(CustomersPath));
        Assert.Contains(Logs.Lines, l => l.Contains("was delivered again: already handled", StringComparison.Ordinal));
        await using var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.Equal(1, await db.ProcessedStripeEvents.CountAsync());
    }

    /// <summary>Stripe delivers out of order and late: an event about a customer the user no longer has changes nothing.</summary>
    [Fact]
    public async Task A_late_event_about_a_customer_the_user_no_longer_has_changes_nothing()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("moved-on-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        (await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted(original))).Dispose();
        var current = await BffRequests.CustomerOfSessionAsync(user);
        Stripe.Reset();

        using var late = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted(original));

        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal(current, await BffRequests.CustomerOfSessionAsync(user));
        Assert.Empty(Stripe.RequestsTo(CustomersPath));
    }

    public static TheoryData<string, string> IgnoredEvents => new()
    {
        { "a customer this service never mapped", StripeEvents.CustomerDeleted("cus_never_mapped") },
        { "another snapshot type", StripeEvents.Snapshot("customer.created", new System.Text.Json.Nodes.JsonObject { ["id"] = "cus_new", ["object"] = "customer" }) },
        { "Stripe's destination ping", StripeEvents.Thin("v2.core.event_destination.ping", null) },
        { "a thin type this service does not know", StripeEvents.Thin("v2.core.account.updated", "acct_123") },
        { "an account this service never mapped", StripeEvents.AccountClosed("acct_never_mapped") },
        { "an event from another API version", StripeEvents.CustomerDeleted("cus_old_version", apiVersion: "2024-06-20") },
    };

    /// <summary>Anything signed that we do not act on is still a 2xx, or Stripe would retry it for three days.</summary>
    [Theory]
    [MemberData(nameof(IgnoredEvents))]
    public async Task Events_this_service_does_not_act_on_are_answered_2xx(string why, string body)
    {
        await using var api = NewApi();

        using var response = await StripeEvents.DeliverAsync(api, Secret, body);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {(int)response.StatusCode}");
        Assert.Empty(Stripe.Requests);
    }

    [Fact]
    public async Task Either_configured_secret_is_accepted_and_so_is_a_delivery_signed_twice_during_a_roll()
    {
        await using var api = NewApi();
        using var client = api.CreateApiClient();
        var fromTheSecondDestination = StripeEvents.CustomerDeleted("cus_second_destination");
        var duringARoll = StripeEvents.CustomerDeleted("cus_during_a_roll");

        using var second = await StripeEvents.DeliverAsync(client, fromTheSecondDestination,
            StripeEvents.Signature(fromTheSecondDestination, DateTimeOffset.UtcNow, RolledSecret));
        using var rolled = await StripeEvents.DeliverAsync(client, duringARoll,
            StripeEvents.Signature(duringARoll, DateTimeOffset.UtcNow, "whsec_the_retired_one", RolledSecret));

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rolled.StatusCode);
    }

    public static TheoryData<string, Func<string, string?>> BadSignatures => new()
    {
        { "no Stripe-Signature", _ => null },
        { "a garbled header", _ => "garbage" },
        { "an empty header", _ => "" },
        { "signed with another secret", body => StripeEvents.Signature(body, DateTimeOffset.UtcNow, "whsec_forged_by_someone") },
        // Ten seconds past the 300 s tolerance: a second ticking before the service checks must not bring it back within.
        { "signed 310 s ago", body => StripeEvents.Signature(body, DateTimeOffset.UtcNow.AddSeconds(-310), Secret) },
        { "signed 310 s in the future", body => StripeEvents.Signature(body, DateTimeOffset.UtcNow.AddSeconds(310), Secret) },
        { "altered after signing", body => StripeEvents.Signature(body.Replace("ada@example.com", "eve@example.com", StringComparison.Ordinal), DateTimeOffset.UtcNow, Secret) },
        { "a signature in upper case", body => StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret).ToUpperInvariant().Replace("T=", "t=", StringComparison.Ordinal).Replace("V1=", "v1=", StringComparison.Ordinal) },
    };

    [Theory]
    [MemberData(nameof(BadSignatures))]
    public async Task A_delivery_that_is_not_signed_as_Stripe_signs_is_a_400_problem_and_changes_nothing(string why, Func<string, string?> sign)
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("protected-user");
        var customer = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.CustomerDeleted(customer, eventId: "evt_claimed_by_the_sender");
        Stripe.Reset();

        var header = sign(body);
        using var response = await StripeEvents.DeliverAsync(api.CreateApiClient(), body, header);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(WebhookProblems.InvalidSignature.Type, problem.GetProperty("type").GetString());
        Assert.Equal(customer, await BffRequests.CustomerOfSessionAsync(user));
        Assert.Empty(Stripe.RequestsTo(CustomersPath));
        // The claimed id is logged; a header that cannot pass (no signature at all, or too old or too new) is refused
        // before the body is even read.
        var refusal = Assert.Single(Logs.Lines, l => l.Contains("Refused a Stripe webhook delivery", StringComparison.Ordinal));
        Assert.StartsWith("[Warning]", refusal, StringComparison.Ordinal);
        Assert.Contains(StripeEventReader.IsWorthReading(header, DateTimeOffset.UtcNow) ? "evt_claimed_by_the_sender" : "(not read)", refusal, StringComparison.Ordinal);
        Assert.False(Logs.Lines.Any(l => l.Contains("whsec_", StringComparison.Ordinal)), why);
    }

    [Fact]
    public async Task Bodies_beyond_the_APIs_16_KiB_are_accepted_up_to_a_cap_of_their_own()
    {
        await using var api = NewApi();

        using var large = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted("cus_large", padding: new string('x', 64 * 1024)));
        using var tooLarge = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted("cus_huge", padding: new string('x', 1100 * 1024)));

        Assert.Equal(HttpStatusCode.OK, large.StatusCode);
        var problem = await HttpAssert.ProblemAsync(tooLarge, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(CommonProblems.BodyTooLarge.Type, problem.GetProperty("type").GetString());
        Assert.Contains("1048576 bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Stripe sends no user token, no CSRF header, and many events at once: none of the API's rules apply.</summary>
    [Fact]
    public async Task Deliveries_need_no_user_no_CSRF_header_and_no_per_user_budget()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?>
        {
            ["Stripe:WebhookSecrets:0"] = Secret,
            ["RateLimiting:PerUserBurst"] = "1",
            ["RateLimiting:PerUserPerMinute"] = "1",
        });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted($"cus_burst_{i}"));
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact]
    public async Task Without_a_secret_the_path_does_not_exist_and_start_up_says_webhooks_are_off()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        var body = StripeEvents.CustomerDeleted("cus_anything");

        using var response = await StripeEvents.DeliverAsync(api.CreateApiClient(), body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret));

        await HttpAssert.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains(Logs.Lines, l => l.Contains("Stripe webhooks are off", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_secret_that_is_not_a_webhook_secret_stops_start_up_without_repeating_it()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?> { ["Stripe:WebhookSecrets:0"] = "sk_test_wrong_key_here" });

        var error = Assert.ThrowsAny<Exception>(() => api.Server);

        Assert.Contains("Stripe:WebhookSecrets", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk_test_wrong_key_here", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The documented way to try webhooks without a Stripe account: tools/send-stripe-event, signing as Stripe does.</summary>
    [Fact]
    public async Task The_send_stripe_event_tool_delivers_a_signed_event_the_service_acts_on()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?> { ["Stripe:WebhookSecrets:0"] = Secret });
        var address = api.StartKestrel();
        using var user = new HttpClient { BaseAddress = address };
        user.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("tool-user"));
        var original = await BffRequests.CustomerOfSessionAsync(user);
        Stripe.Reset();

        var (exitCode, output) = await RunAsync(Repository.PathOf("tools", "send-stripe-event"), ["customer.deleted", original],
            new Dictionary<string, string> { ["WEBHOOK_SECRET"] = Secret, ["URL"] = new Uri(address, "/stripe/webhook").ToString() });

        Assert.True(exitCode == 0, output);
        Assert.EndsWith("200", output.TrimEnd(), StringComparison.Ordinal);
        Assert.NotEqual(original, await BffRequests.CustomerOfSessionAsync(user));
        Assert.Equal([CustomersPath, SessionsPath], Stripe.Requests.Select(r => r.Path));
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string script, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }
}
