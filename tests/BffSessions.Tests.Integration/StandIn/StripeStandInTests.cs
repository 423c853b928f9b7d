using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Stripe;

namespace BffSessions.Tests.StandIn;

/// <summary>
/// The Stripe stand-in keeps the rules Stripe documents (shared/stripe/README.md): a test that passes against it
/// should pass against Stripe. Spoken to over HTTP as Stripe is, and through Stripe.net where the SDK's own behaviour
/// matters.
/// </summary>
#pragma warning disable CA1001 // xunit disposes it through IAsyncLifetime
public sealed class StripeStandInTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private const string TestKey = "sk_test_standinrules0001";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private StripeStandIn _stripe = null!;
    private HttpClient _http = null!; // disposed in DisposeAsync

    public async Task InitializeAsync()
    {
        _stripe = await StripeStandIn.StartAsync(new StandInOptions { Time = _time });
        _http = new HttpClient { BaseAddress = _stripe.BaseAddress };
        _http.DefaultRequestHeaders.Authorization = new("Bearer", TestKey);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _stripe.DisposeAsync();
    }

    [Fact]
    public async Task A_sandbox_account_gets_25_calls_a_second_and_then_a_rate_limit_429_Stripe_net_does_not_retry()
    {
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 30; i++)
        {
            answers.Add(await PostAsync("/v1/customers", $"rate-{i}", ("email", "ada@example.com")));
        }

        Assert.Equal(25, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        var refused = answers.First(a => a.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.Equal("global-rate", refused.Headers.GetValues("Stripe-Rate-Limited-Reason").Single());
        Assert.Equal("false", refused.Headers.GetValues("Stripe-Should-Retry").Single());
        Assert.Equal("rate_limit", (await ErrorOf(refused)).GetProperty("code").GetString());

        _time.Advance(TimeSpan.FromSeconds(1));
        using var after = await PostAsync("/v1/customers", "rate-after", ("email", "ada@example.com"));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        answers.ForEach(a => a.Dispose());
    }

    [Fact]
    public async Task A_500_is_stored_for_its_key_and_replayed_while_another_key_executes()
    {
        _stripe.Inject(new Fault { Path = "/v1/customers", Status = 500 });

        using var first = await PostAsync("/v1/customers", "key-500", ("name", "Ada"));
        using var replay = await PostAsync("/v1/customers", "key-500", ("name", "Ada"));
        using var other = await PostAsync("/v1/customers", "key-other", ("name", "Ada"));

        Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, replay.StatusCode);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(replay.Headers.Contains("Stripe-Should-Retry"));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Single(_stripe.AllCustomers);
    }

    [Fact]
    public async Task A_key_reused_with_other_parameters_is_an_idempotency_error_and_the_first_answer_stays()
    {
        using var first = await PostAsync("/v1/customers", "key-params", ("email", "old@example.com"));
        using var changed = await PostAsync("/v1/customers", "key-params", ("email", "new@example.com"));
        using var same = await PostAsync("/v1/customers", "key-params", ("email", "old@example.com"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, changed.StatusCode);
        Assert.Equal("idempotency_error", (await ErrorOf(changed)).GetProperty("type").GetString());
        Assert.Equal(await IdOf(first), await IdOf(same));
    }

    [Fact]
    public async Task A_key_still_executing_is_a_409_and_nothing_is_stored_for_the_conflict()
    {
        var release = new TaskCompletionSource();
        _stripe.Override("/v1/customers", async (request, _) =>
        {
            await release.Task;
            return _stripe.Default(request);
        });

        var slow = PostAsync("/v1/customers", "key-busy", ("name", "Ada"));
        await WaitForAsync(() => _stripe.RequestsTo("/v1/customers").Count == 1);
        using var conflict = await PostAsync("/v1/customers", "key-busy", ("name", "Ada"));
        release.SetResult();
        using var done = await slow;
        using var after = await PostAsync("/v1/customers", "key-busy", ("name", "Ada"));

        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal("idempotency_key_in_use", (await ErrorOf(conflict)).GetProperty("code").GetString());
        Assert.Equal(await IdOf(done), await IdOf(after));
    }

    [Fact]
    public async Task Parameters_that_fail_validation_store_nothing_so_the_key_can_be_used_again()
    {
        using var refused = await PostAsync("/v1/customers", "key-valid", ("name", new string('n', 257)));
        using var accepted = await PostAsync("/v1/customers", "key-valid", ("name", "Ada"));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("name", (await ErrorOf(refused)).GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    public static TheoryData<string, (string, string)[], string, string> RefusedCustomers => new()
    {
        { "a name over 256", [("name", new string('n', 257))], "name", "parameter_invalid_string_too_long" },
        { "an email over 512", [("email", new string('e', 510) + "@x.io")], "email", "parameter_invalid_string_too_long" },
        { "an email that is no address", [("email", "ada at example")], "email", "email_invalid" },
        { "a display name with the address", [("email", "Ada <ada@example.com>")], "email", "email_invalid" },
        { "65 characters before the @", [("email", new string('a', 65) + "@example.com")], "email", "email_invalid" },
        { "a metadata value over 500", [("metadata[user_id]", new string('v', 501))], "metadata[user_id]", "parameter_invalid_string_too_long" },
        { "a metadata key over 40", [("metadata[" + new string('k', 41) + "]", "v")], "metadata[" + new string('k', 41) + "]", "parameter_invalid" },
        { "51 metadata keys", Enumerable.Range(0, 51).Select(i => ($"metadata[k{i}]", "v")).ToArray(), "metadata", "parameter_invalid" },
        { "an unknown parameter", [("customer_of", "someone")], "customer_of", "parameter_unknown" },
    };

    [Theory]
    [MemberData(nameof(RefusedCustomers))]
    public async Task A_customer_beyond_Stripes_field_limits_is_a_400_on_the_parameter(string why, (string, string)[] form, string param, string code)
    {
        using var response = await PostAsync("/v1/customers", "key-" + Guid.NewGuid().ToString("N"), form);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, why);
        var error = await ErrorOf(response);
        Assert.Equal((param, code), (error.GetProperty("param").GetString(), error.GetProperty("code").GetString()));
        Assert.Empty(_stripe.AllCustomers);
    }

    public static TheoryData<string, (string, string)[], string> RefusedSessions => new()
    {
        { "no component enabled", [("components[pricing_table][enabled]", "false")], "components" },
        { "features on the buy button", [("components[pricing_table][enabled]", "true"), ("components[buy_button][features][x]", "y")], "components[buy_button][features]" },
        { "a component without enabled", [("components[pricing_table][enabled]", "true"), ("components[payment_element][features][payment_method_redisplay]", "enabled")], "components[payment_element][enabled]" },
        { "features on the pricing table", [("components[pricing_table][enabled]", "true"), ("components[pricing_table][features][payment_method_remove]", "enabled")], "components[pricing_table][features]" },
        { "a redisplay limit of 11", [("components[payment_element][enabled]", "true"), ("components[payment_element][features][payment_method_redisplay_limit]", "11")], "components[payment_element][features][payment_method_redisplay_limit]" },
        { "an unknown redisplay value", [("components[payment_element][enabled]", "true"), ("components[payment_element][features][payment_method_redisplay]", "sometimes")], "components[payment_element][features][payment_method_redisplay]" },
        { "an unknown filter", [("components[customer_sheet][enabled]", "true"), ("components[customer_sheet][features][payment_method_allow_redisplay_filters][0]", "never")], "components[customer_sheet][features][payment_method_allow_redisplay_filters]" },
        { "an unknown component", [("components[checkout][enabled]", "true")], "components[checkout]" },
        { "enabled that is no boolean", [("components[pricing_table][enabled]", "yes")], "components[pricing_table][enabled]" },
    };

    [Theory]
    [MemberData(nameof(RefusedSessions))]
    public async Task A_session_outside_the_component_rules_is_a_400_on_the_parameter(string why, (string, string)[] components, string param)
    {
        var customer = await IdOf(await PostAsync("/v1/customers", "key-" + Guid.NewGuid().ToString("N"), ("name", "Ada")));

        using var response = await PostAsync("/v1/customer_sessions", "key-" + Guid.NewGuid().ToString("N"), [("customer", customer), .. components]);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, why);
        Assert.Equal(param, (await ErrorOf(response)).GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_new_customer_shows_in_search_only_after_the_lag_and_a_deleted_one_is_missing_for_sessions()
    {
        var id = await IdOf(await PostAsync("/v1/customers", "key-search", ("metadata[user_id]", "searched-user")));

        var now = await SearchAsync("metadata['user_id']:'searched-user'");
        _time.Advance(TimeSpan.FromSeconds(59));
        var almost = await SearchAsync("metadata['user_id']:'searched-user'");
        _time.Advance(TimeSpan.FromSeconds(1));
        var later = await SearchAsync("metadata['user_id']:'searched-user'");
        Assert.True(_stripe.DeleteCustomer(id));
        using var session = await PostAsync("/v1/customer_sessions", "key-gone", ("customer", id), ("components[pricing_table][enabled]", "true"));

        Assert.Empty(now);
        Assert.Empty(almost);
        Assert.Equal([id], later);
        Assert.Equal(HttpStatusCode.BadRequest, session.StatusCode);
        var error = await ErrorOf(session);
        Assert.Equal(("resource_missing", "customer"), (error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
    }

    [Fact]
    public async Task Another_accounts_key_sees_none_of_this_accounts_customers_or_idempotency_keys()
    {
        var ours = await IdOf(await PostAsync("/v1/customers", "key-shared", ("name", "Ada")));
        using var theirs = new HttpClient { BaseAddress = _stripe.BaseAddress };
        theirs.DefaultRequestHeaders.Authorization = new("Bearer", "sk_test_someotheraccount1");
        using var restricted = new HttpClient { BaseAddress = _stripe.BaseAddress };
        restricted.DefaultRequestHeaders.Authorization = new("Bearer", "rk_test_standinrules0001"); // our account's restricted key

        using var session = await theirs.PostAsync("/v1/customer_sessions",
            new FormUrlEncodedContent([KeyValuePair.Create("customer", ours), KeyValuePair.Create("components[pricing_table][enabled]", "true")]));
        using var sameKeyThere = new HttpRequestMessage(HttpMethod.Post, "/v1/customers") { Content = new FormUrlEncodedContent([KeyValuePair.Create("name", "Ada")]) };
        sameKeyThere.Headers.Add("Idempotency-Key", "key-shared");
        var theirCustomer = await IdOf(await theirs.SendAsync(sameKeyThere));
        using var ownSession = await restricted.PostAsync("/v1/customer_sessions",
            new FormUrlEncodedContent([KeyValuePair.Create("customer", ours), KeyValuePair.Create("components[pricing_table][enabled]", "true")]));

        Assert.Equal(HttpStatusCode.BadRequest, session.StatusCode);
        Assert.Equal("resource_missing", (await ErrorOf(session)).GetProperty("code").GetString());
        Assert.NotEqual(ours, theirCustomer);
        Assert.Equal(HttpStatusCode.OK, ownSession.StatusCode);
    }

    [Fact]
    public async Task A_call_the_caller_gave_up_on_still_finishes_and_a_retry_meanwhile_is_a_409()
    {
        await using var slow = await StripeStandIn.StartAsync(new StandInOptions { Latency = TimeSpan.FromSeconds(1) });
        using var impatient = new HttpClient { BaseAddress = slow.BaseAddress, Timeout = TimeSpan.FromMilliseconds(200) };
        impatient.DefaultRequestHeaders.Authorization = new("Bearer", TestKey);
        using var patient = new HttpClient { BaseAddress = slow.BaseAddress };
        patient.DefaultRequestHeaders.Authorization = new("Bearer", TestKey);
        HttpRequestMessage Create() => new(HttpMethod.Post, "/v1/customers")
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("name", "Ada")]),
            Headers = { { "Idempotency-Key", "key-given-up" } },
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient.SendAsync(Create()));
        using var meanwhile = await patient.SendAsync(Create());
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        using var after = await patient.SendAsync(Create());

        Assert.Equal(HttpStatusCode.Conflict, meanwhile.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("true", after.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Single(slow.Customers);
    }

    [Fact]
    public async Task Keys_are_kept_24_hours_and_then_a_request_under_one_executes_again()
    {
        var first = await IdOf(await PostAsync("/v1/customers", "key-day", ("name", "Ada")));
        _time.Advance(TimeSpan.FromHours(23.9));
        var kept = await IdOf(await PostAsync("/v1/customers", "key-day", ("name", "Ada")));
        _time.Advance(TimeSpan.FromHours(0.2));
        var pruned = await IdOf(await PostAsync("/v1/customers", "key-day", ("name", "Ada")));

        Assert.Equal(first, kept);
        Assert.NotEqual(first, pruned);
    }

    [Fact]
    public async Task Deleting_a_customer_delivers_a_customer_deleted_event_signed_as_Stripe_signs_it()
    {
        const string secret = "whsec_standin_test_0123456789";
        var received = new TaskCompletionSource<(string Body, string Signature)>();
        var destination = WebApplication.CreateSlimBuilder();
        destination.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = destination.Build();
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            received.TrySetResult((await reader.ReadToEndAsync(), http.Request.Headers["Stripe-Signature"].ToString()));
            return Results.Ok();
        });
        await app.StartAsync();
        _stripe.Options.WebhookUrl = new Uri(app.Urls.Single() + "/hook");
        _stripe.Options.WebhookSecret = secret;
        var id = await IdOf(await PostAsync("/v1/customers", "key-hook", ("email", "ada@example.com")));

        using var deleted = await _http.DeleteAsync($"/v1/customers/{id}");
        var (body, signature) = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        var stripeEvent = EventUtility.ConstructEvent(body, signature, secret, tolerance: 300, throwOnApiVersionMismatch: true);
        Assert.Equal("customer.deleted", stripeEvent.Type);
        Assert.Equal(id, ((Customer)stripeEvent.Data.Object).Id);
        Assert.Throws<StripeException>(() => EventUtility.ConstructEvent(body, signature, "whsec_someone_else_0000", throwOnApiVersionMismatch: false));
    }

    [Fact]
    public async Task A_v2_retry_under_the_same_key_finishes_the_work_a_500_left_instead_of_replaying_the_500()
    {
        _stripe.Inject(new Fault { Path = "/v2/core/accounts", Status = 500, Mode = FaultMode.After });
        var body = JsonContent.Create(new { display_name = "Ada", configuration = new { customer = new { } } });

        using var failed = await SendAsync(HttpMethod.Post, "/v2/core/accounts", "key-v2", body);
        using var retried = await SendAsync(HttpMethod.Post, "/v2/core/accounts", "key-v2", JsonContent.Create(new { display_name = "Ada", configuration = new { customer = new { } } }));

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(_stripe.Accounts.Single().Id, await IdOf(retried));
    }

    [Fact]
    public async Task Stripe_net_works_against_the_in_process_handler_and_a_dropped_answer_is_a_broken_connection()
    {
        await using var inProcess = StripeStandIn.CreateInProcess(new StandInOptions { Time = _time });
        using var http = new HttpClient(inProcess.CreateHandler());
        var client = new StripeClient(TestKey, httpClient: new SystemNetHttpClient(http, maxNetworkRetries: 0), apiBase: "https://api.stripe.com");

        var customer = await client.V1.Customers.CreateAsync(new CustomerCreateOptions { Email = "ada@example.com", Metadata = new() { ["user_id"] = "ada" } });
        var session = await client.V1.CustomerSessions.CreateAsync(new CustomerSessionCreateOptions
        {
            Customer = customer.Id,
            Components = new() { PricingTable = new() { Enabled = true } },
        });
        inProcess.Inject(new Fault { Path = "/v1/customers", Mode = FaultMode.Drop });
        var dropped = await Assert.ThrowsAnyAsync<Exception>(() => client.V1.Customers.CreateAsync(new CustomerCreateOptions { Name = "Lost" }));

        Assert.StartsWith("cus_", customer.Id, StringComparison.Ordinal);
        Assert.Equal(customer.Id, session.CustomerId);
        Assert.StartsWith("cuss_secret_", session.ClientSecret, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow().AddMinutes(30).ToUnixTimeSeconds(), new DateTimeOffset(DateTime.SpecifyKind(session.ExpiresAt, DateTimeKind.Utc)).ToUnixTimeSeconds());
        Assert.True(dropped is HttpRequestException || dropped.InnerException is HttpRequestException, dropped.ToString());
        Assert.Equal(2, inProcess.Customers.Count); // the lost answer's customer was made all the same
    }

    private Task<HttpResponseMessage> PostAsync(string path, string key, params (string Name, string Value)[] form) =>
        SendAsync(HttpMethod.Post, path, key, new FormUrlEncodedContent(form.Select(f => KeyValuePair.Create(f.Name, f.Value))));

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string key, HttpContent content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Add("Idempotency-Key", key);
        return await _http.SendAsync(request);
    }

    private async Task<List<string>> SearchAsync(string query)
    {
        using var response = await _http.GetAsync("/v1/customers/search?query=" + Uri.EscapeDataString(query));
        var found = await response.Content.ReadFromJsonAsync<JsonElement>();
        return found.GetProperty("data").EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList();
    }

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");

    private static async Task<string> IdOf(HttpResponseMessage response)
    {
        using (response)
        {
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500; i++)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(10);
        }

        Assert.Fail("The condition did not hold within 5 s.");
    }
}
