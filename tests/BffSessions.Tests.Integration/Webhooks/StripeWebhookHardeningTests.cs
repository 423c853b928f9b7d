using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Webhooks;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests.Webhooks;

/// <summary>Deliveries a hostile sender, a broken destination or Stripe's own at-least-once delivery can produce.</summary>
public sealed class StripeWebhookHardeningTests : StandInTest
{
    private const string Secret = "whsec_hardening_destination";
    private const string Forgotten = "is gone: replaced at the user's next session";

    private ApiFactory NewApi(string environment = "Test", string kind = "Customer", string secret = Secret, string? stripeKey = null, TimeProvider? time = null) =>
        new(Stripe, Logs, environment, new Dictionary<string, string?>
        {
            ["Stripe:WebhookSecrets:0"] = secret,
            ["Customers:Kind"] = kind,
            ["Stripe:SecretKey"] = stripeKey ?? ApiFactory.StripeKey,
        }, services =>
        {
            if (time is not null)
            {
                services.AddSingleton(time);
            }
        });

    /// <summary>Stripe delivers at least once: sequential and simultaneous copies of an event are handled once, without an error.</summary>
    [Fact]
    public async Task Copies_of_an_event_in_a_row_or_at_the_same_moment_are_handled_once()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("copied-event-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.CustomerDeleted(original);

        using var first = await StripeEvents.DeliverAsync(api, Secret, body);
        var stampedAt = await ForgottenAtAsync(api, "copied-event-user");
        var copies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => StripeEvents.DeliverAsync(api, Secret, body)));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.All(copies, c => Assert.Equal(HttpStatusCode.OK, c.StatusCode));
        Assert.Single(Logs.Lines, l => l.Contains(Forgotten, StringComparison.Ordinal));
        Assert.Equal(20, Logs.Lines.Count(l => l.Contains("was delivered again: already handled", StringComparison.Ordinal)));
        Assert.Equal(stampedAt, await ForgottenAtAsync(api, "copied-event-user"));
        Assert.DoesNotContain(Logs.Lines, l => l.StartsWith("[Error]", StringComparison.Ordinal));
        foreach (var copy in copies)
        {
            copy.Dispose();
        }
    }

    [Fact]
    public async Task A_new_event_arriving_many_times_at_once_is_acted_on_once()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("stampede-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.CustomerDeleted(original);

        var copies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => StripeEvents.DeliverAsync(api, Secret, body)));

        Assert.All(copies, c => Assert.Equal(HttpStatusCode.OK, c.StatusCode));
        Assert.Single(Logs.Lines, l => l.Contains(Forgotten, StringComparison.Ordinal));
        Assert.DoesNotContain(Logs.Lines, l => l.StartsWith("[Error]", StringComparison.Ordinal));
        foreach (var copy in copies)
        {
            copy.Dispose();
        }
    }

    public static TheoryData<string, string> SignedButUnreadable => new()
    {
        { "an event without an id", """{"object":"event","type":"customer.deleted","data":{"object":{"id":"cus_X","object":"customer"}}}""" },
        { "an id that is a number", """{"object":"event","id":42,"type":"customer.deleted","data":{"object":{"id":"cus_X"}}}""" },
        { "a type that is a number", """{"object":"event","id":"evt_1","type":7,"data":{"object":{"id":"cus_X"}}}""" },
        { "data that is a string", """{"object":"event","id":"evt_2","type":"customer.deleted","data":"cus_X"}""" },
        { "an id with a lone surrogate", """{"object":"event","id":"evt_\ud800","type":"customer.deleted","data":{"object":{"id":"cus_X"}}}""" },
        { "an id of 300 characters", "{\"object\":\"event\",\"id\":\"evt_" + new string('a', 300) + "\",\"type\":\"customer.deleted\",\"data\":{\"object\":{\"id\":\"cus_X\"}}}" },
        { "a customer id with a NUL", """{"object":"event","id":"evt_3","type":"customer.deleted","data":{"object":{"id":"cus_\u0000X","object":"customer"}}}""" },
        { "a v2 event without an id", """{"object":"v2.core.event","type":"v2.core.account.closed"}""" },
        { "an object that is no event", """{"object":"customer","id":"cus_X"}""" },
        { "an array", """[1,2,3]""" },
    };

    /// <summary>Signed, so Stripe's (or a broken destination's): acknowledged, logged as an error, never a 500, nothing changed.</summary>
    [Theory]
    [MemberData(nameof(SignedButUnreadable))]
    public async Task A_signed_delivery_that_is_no_readable_event_is_acknowledged_and_changes_nothing(string why, string body)
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("unreadable-user");
        var customer = await BffRequests.CustomerOfSessionAsync(user);

        using var response = await StripeEvents.DeliverAsync(api, Secret, body.Replace("cus_X", customer, StringComparison.Ordinal));

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {(int)response.StatusCode}");
        Assert.Contains(Logs.Lines, l => l.StartsWith("[Error]", StringComparison.Ordinal) && l.Contains("not an event this service can read", StringComparison.Ordinal));
        Assert.Equal(customer, await BffRequests.CustomerOfSessionAsync(user));
    }

    /// <summary>An event from a destination pinned to an older API version, whose customer does not fit today's types.</summary>
    [Fact]
    public async Task A_customer_deleted_event_that_does_not_fit_Stripe_net_s_types_is_still_acted_on()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("old-shape-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.Snapshot("customer.deleted", new JsonObject { ["id"] = original, ["object"] = "customer", ["address"] = "a string, once" });

        using var response = await StripeEvents.DeliverAsync(api, Secret, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(original, await BffRequests.CustomerOfSessionAsync(user));
    }

    /// <summary>Stripe's own example customer, as <c>data.object</c>: the typed path, not the fallback, reads it.</summary>
    [Fact]
    public async Task Stripe_s_full_customer_object_is_read_by_Stripe_net()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("full-object-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var customer = JsonNode.Parse(await File.ReadAllTextAsync(Repository.PathOf("tests", "BffSessions.Tests.Integration", "Webhooks", "stripe-customer.json")))!.AsObject();
        customer["id"] = original;
        var body = StripeEvents.Snapshot("customer.deleted", customer);
        Assert.Equal(original, (global::Stripe.EventUtility.ParseEvent(body, throwOnApiVersionMismatch: false).Data.Object as global::Stripe.Customer)?.Id);

        using var response = await StripeEvents.DeliverAsync(api, Secret, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(original, await BffRequests.CustomerOfSessionAsync(user));
    }

    [Theory]
    [InlineData("""{"id":"\ud800"}""")]
    [InlineData("""{"id":"evt_\udfff","object":"event"}""")]
    [InlineData("""{"id":"evt_\u2028\u202eforged","object":"event"}""")]
    public async Task An_unsigned_body_is_a_400_whatever_id_it_claims(string body)
    {
        await using var api = NewApi();

        using var response = await StripeEvents.DeliverAsync(api.CreateApiClient(), body, "t=1,v1=00");

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        var refusal = Assert.Single(Logs.Lines, l => l.Contains("Refused a Stripe webhook delivery", StringComparison.Ordinal));
        Assert.DoesNotContain('\u2028', refusal);
        Assert.DoesNotContain('\u202e', refusal);
    }

    /// <summary>
    /// A forged body whose header passes the check before the body (shaped right, timed now) is refused on a hash of its
    /// bytes, and its log line names the id it claims, looked for in its first 4 KiB only: a body that puts its id after
    /// 8 KB of padding is not parsed that far, and so is logged with none.
    /// </summary>
    [Fact]
    public async Task A_forged_body_is_logged_with_the_id_it_claims_at_its_start_and_not_read_further_for_one()
    {
        // Refusals write a line at most every 10 s: the second delivery comes 10 s on, so that it writes one too.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = NewApi(time: time);
        var forged = $"t={time.GetUtcNow().ToUnixTimeSeconds()},v1={new string('0', 64)}";

        using var first = await StripeEvents.DeliverAsync(api.CreateApiClient(), """{"id":"evt_claimed_first","object":"event"}""", forged);
        time.Advance(WarningThrottle.Interval);
        using var late = await StripeEvents.DeliverAsync(api.CreateApiClient(), $$"""{"padding":"{{new string('x', 8000)}}","id":"evt_claimed_late"}""", forged);

        await HttpAssert.ProblemAsync(first, HttpStatusCode.BadRequest);
        await HttpAssert.ProblemAsync(late, HttpStatusCode.BadRequest);
        var refusals = Logs.Lines.Where(l => l.Contains("Refused a Stripe webhook delivery", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, refusals.Count);
        Assert.Contains(refusals, l => l.Contains("evt_claimed_first", StringComparison.Ordinal));
        Assert.DoesNotContain(Logs.Lines, l => l.Contains("evt_claimed_late", StringComparison.Ordinal));
    }

    /// <summary>The signature covers the bytes received: a byte-order mark Stripe signed is fine; the same text in UTF-16 is not what was signed.</summary>
    [Fact]
    public async Task The_signature_is_checked_over_the_bytes_received()
    {
        await using var api = NewApi();
        using var user = api.CreateClientFor("bytes-user");
        var original = await BffRequests.CustomerOfSessionAsync(user);
        var body = StripeEvents.CustomerDeleted(original);
        var signature = StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret);
        var withMark = "\uFEFF" + body;

        using var utf16 = await DeliverBytesAsync(api, Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes(body)).ToArray(), signature);
        using var markSigned = await DeliverBytesAsync(api, Encoding.UTF8.GetBytes(withMark), StripeEvents.Signature(withMark, DateTimeOffset.UtcNow, Secret));

        await HttpAssert.ProblemAsync(utf16, HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, markSigned.StatusCode); // signed, though not readable as an event: acknowledged
    }

    [Fact]
    public async Task A_customer_deleted_event_does_not_let_go_of_an_account_with_that_id()
    {
        await using var api = NewApi(kind: "Account");
        using var user = api.CreateClientFor("account-kind-user");
        var account = await BffRequests.CustomerOfSessionAsync(user);

        using var response = await StripeEvents.DeliverAsync(api, Secret, StripeEvents.CustomerDeleted(account));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(account, await BffRequests.CustomerOfSessionAsync(user));
        Assert.DoesNotContain(Logs.Lines, l => l.Contains(Forgotten, StringComparison.Ordinal));
    }

    /// <summary>The local test secret is public: never trusted outside Development, nor in Development with a real Stripe key.</summary>
    [Fact]
    public async Task The_public_local_test_secret_stops_Production_and_is_not_trusted_beside_a_real_key()
    {
        await using var production = NewApi("Production", secret: "whsec_local_test_secret");
        await using var developmentWithAKey = NewApi("Development", secret: "whsec_local_test_secret");
        var body = StripeEvents.CustomerDeleted("cus_anything");

        var failure = Record.Exception(() => production.Server);
        using var response = await StripeEvents.DeliverAsync(developmentWithAKey.CreateApiClient(), body,
            StripeEvents.Signature(body, DateTimeOffset.UtcNow, "whsec_local_test_secret"));

        Assert.Contains("whsec_local_test_secret, the public secret of local testing", failure?.ToString() ?? "", StringComparison.Ordinal);
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode); // 400, or 404 when it was the only secret
    }

    /// <summary>The share per address is a share of the turns: more than all of them is a setting misread, said at start.</summary>
    [Theory]
    [InlineData("16", "17")]
    [InlineData("1", "4")]
    public async Task A_share_per_address_over_the_turns_stops_start_up_naming_both_settings(string concurrency, string perAddress)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:WebhookSecrets:0"] = Secret,
            ["Stripe:WebhookConcurrency"] = concurrency,
            ["Stripe:WebhookConcurrencyPerAddress"] = perAddress,
        });

        var failure = Record.Exception(() => api.Server);

        Assert.Contains("Stripe:WebhookConcurrencyPerAddress must not be more than Stripe:WebhookConcurrency", failure?.ToString() ?? "", StringComparison.Ordinal);
    }

    /// <summary>A share equal to the turns is allowed: it is how the share is turned off behind a proxy.</summary>
    [Fact]
    public async Task A_share_per_address_equal_to_the_turns_is_accepted()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:WebhookSecrets:0"] = Secret,
            ["Stripe:WebhookConcurrency"] = "8",
            ["Stripe:WebhookConcurrencyPerAddress"] = "8",
        });
        var body = StripeEvents.CustomerDeleted("cus_anyone");

        using var response = await StripeEvents.DeliverAsync(api.CreateApiClient(), body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task<HttpResponseMessage> DeliverBytesAsync(ApiFactory api, byte[] body, string signature)
    {
        using var client = api.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stripe/webhook") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        return await client.SendAsync(request);
    }

    private static async Task<DateTime?> ForgottenAtAsync(ApiFactory api, string userId)
    {
        await using var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        return (await db.CustomerLinks.SingleAsync(l => l.UserId == userId)).ForgottenAt;
    }
}
