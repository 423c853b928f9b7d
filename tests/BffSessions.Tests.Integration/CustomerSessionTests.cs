using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

public sealed class CustomerSessionTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private const string SessionsPath = "/v1/customer_sessions";
    private const string CustomersPath = "/v1/customers";

    [Fact]
    public async Task A_signed_in_user_gets_a_client_secret_and_nothing_else_of_Stripes_object()
    {
        using var client = Api.CreateClientFor(NewUserId(), "ada@example.com", "Ada Lovelace");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { pricingTable = new { enabled = true } } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var members = body.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["clientSecret", "expiresAt"], members);
        Assert.StartsWith("cuss_secret_", body.RootElement.GetProperty("clientSecret").GetString(), StringComparison.Ordinal);
        var expiresAt = body.RootElement.GetProperty("expiresAt").GetString()!;
        Assert.EndsWith("Z", expiresAt, StringComparison.Ordinal);
        Assert.InRange(DateTimeOffset.Parse(expiresAt, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(29), DateTimeOffset.UtcNow.AddMinutes(31));
    }

    [Fact]
    public async Task The_first_request_creates_the_customer_from_the_token_and_later_requests_reuse_it()
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId, "grace@example.com", "Grace Hopper");
        var request = new { components = new { buyButton = new { enabled = true } } };

        using var first = await client.PostAsJsonAsync("/api/customer-sessions", request);
        using var second = await client.PostAsJsonAsync("/api/customer-sessions", request);
        using var third = await client.PostAsJsonAsync("/api/customer-sessions", request);

        Assert.All([first, second, third], r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var created = Assert.Single(Stripe.RequestsTo(CustomersPath));
        Assert.Equal("grace@example.com", created.Form["email"]);
        Assert.Equal("Grace Hopper", created.Form["name"]);
        Assert.Equal(userId, created.Form["metadata[user_id]"]);
        Assert.Equal(ApiFactory.Issuer, created.Form["metadata[issuer]"]);
        // A key of this attempt's own, never one derived from the user: Stripe keeps a 500 for a key for a day.
        Assert.Matches("^bffsessions-customer-[0-9a-f]{32}$", created.Headers["Idempotency-Key"]);
        Assert.Equal(created.Headers["Idempotency-Key"], created.Form["metadata[bffsessions_creation]"]);
        var sessions = Stripe.RequestsTo(SessionsPath);
        Assert.Equal(3, sessions.Count);
        Assert.Single(sessions.Select(s => s.Form["customer"]).Distinct());
        Assert.Equal(4, Stripe.Requests.Count);
    }

    [Fact]
    public async Task In_steady_state_a_session_costs_exactly_one_Stripe_call()
    {
        using var client = Api.CreateClientFor(NewUserId());
        var request = new { components = new { pricingTable = new { enabled = true } } };
        (await client.PostAsJsonAsync("/api/customer-sessions", request)).Dispose();
        Stripe.Reset();

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var only = Assert.Single(Stripe.Requests);
        Assert.Equal(("POST", SessionsPath), (only.Method, only.Path));
    }

    [Fact]
    public async Task Stripe_receives_exactly_the_form_fields_for_all_five_components_and_every_feature()
    {
        using var client = Api.CreateClientFor(NewUserId());
        var body = """
            {
              "components": {
                "paymentElement": {
                  "enabled": true,
                  "features": {
                    "paymentMethodRedisplay": "enabled",
                    "paymentMethodRedisplayLimit": 10,
                    "paymentMethodAllowRedisplayFilters": ["always", "limited", "unspecified"],
                    "paymentMethodSave": "enabled",
                    "paymentMethodSaveUsage": "off_session",
                    "paymentMethodRemove": "disabled"
                  }
                },
                "pricingTable": { "enabled": true },
                "buyButton": { "enabled": false },
                "mobilePaymentElement": {
                  "enabled": true,
                  "features": {
                    "paymentMethodRedisplay": "disabled",
                    "paymentMethodAllowRedisplayFilters": ["limited"],
                    "paymentMethodSave": "disabled",
                    "paymentMethodSaveAllowRedisplayOverride": "unspecified",
                    "paymentMethodRemove": "enabled"
                  }
                },
                "customerSheet": {
                  "enabled": true,
                  "features": {
                    "paymentMethodAllowRedisplayFilters": ["always"],
                    "paymentMethodRemove": "enabled"
                  }
                }
              }
            }
            """;

        using var response = await client.PostAsync("/api/customer-sessions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = Assert.Single(Stripe.RequestsTo(SessionsPath));
        var customer = Assert.Single(Stripe.RequestsTo(CustomersPath));
        var expected = new Dictionary<string, string>
        {
            ["customer"] = session.Form["customer"],
            ["components[payment_element][enabled]"] = "true",
            ["components[payment_element][features][payment_method_redisplay]"] = "enabled",
            ["components[payment_element][features][payment_method_redisplay_limit]"] = "10",
            ["components[payment_element][features][payment_method_allow_redisplay_filters][0]"] = "always",
            ["components[payment_element][features][payment_method_allow_redisplay_filters][1]"] = "limited",
            ["components[payment_element][features][payment_method_allow_redisplay_filters][2]"] = "unspecified",
            ["components[payment_element][features][payment_method_save]"] = "enabled",
            ["components[payment_element][features][payment_method_save_usage]"] = "off_session",
            ["components[payment_element][features][payment_method_remove]"] = "disabled",
            ["components[pricing_table][enabled]"] = "true",
            ["components[buy_button][enabled]"] = "false",
            ["components[mobile_payment_element][enabled]"] = "true",
            ["components[mobile_payment_element][features][payment_method_redisplay]"] = "disabled",
            ["components[mobile_payment_element][features][payment_method_allow_redisplay_filters][0]"] = "limited",
            ["components[mobile_payment_element][features][payment_method_save]"] = "disabled",
            ["components[mobile_payment_element][features][payment_method_save_allow_redisplay_override]"] = "unspecified",
            ["components[mobile_payment_element][features][payment_method_remove]"] = "enabled",
            ["components[customer_sheet][enabled]"] = "true",
            ["components[customer_sheet][features][payment_method_allow_redisplay_filters][0]"] = "always",
            ["components[customer_sheet][features][payment_method_remove]"] = "enabled",
        };
        Assert.Equal(expected.OrderBy(f => f.Key), session.Form.OrderBy(f => f.Key));
        Assert.StartsWith("cus_", session.Form["customer"], StringComparison.Ordinal);
        Assert.Equal("Bearer " + ApiFactory.StripeKey, session.Headers["Authorization"]);
        Assert.Equal("2026-10-28.endive", session.Headers["Stripe-Version"]);
        Assert.NotNull(customer);
    }

    /// <summary>
    /// Rows in which sibling features hold different values, so a mapping that swapped two of them (redisplay for
    /// save, one component's remove for another's) would send Stripe a wrong form and fail here. Across the rows every
    /// pair of enabled/disabled features differs at least once.
    /// </summary>
    [Theory]
    [InlineData("enabled", "disabled", "disabled", "on_session", 2, "limited", "always")]
    [InlineData("disabled", "disabled", "enabled", "off_session", 7, "unspecified", "limited")]
    [InlineData("disabled", "enabled", "disabled", "on_session", 1, "always", "unspecified")]
    public async Task Each_feature_value_reaches_Stripe_under_its_own_name(
        string redisplay, string save, string remove, string saveUsage, int limit, string filter, string redisplayOverride)
    {
        using var client = Api.CreateClientFor(NewUserId());
        // The mobile element and the sheet take the same values rotated, so a field taken from the wrong component differs too.
        var body = new
        {
            components = new
            {
                paymentElement = new
                {
                    enabled = true,
                    features = new
                    {
                        paymentMethodRedisplay = redisplay,
                        paymentMethodRedisplayLimit = limit,
                        paymentMethodAllowRedisplayFilters = new[] { filter },
                        paymentMethodSave = save,
                        paymentMethodSaveUsage = saveUsage,
                        paymentMethodRemove = remove,
                    },
                },
                mobilePaymentElement = new
                {
                    enabled = true,
                    features = new
                    {
                        paymentMethodRedisplay = remove,
                        paymentMethodAllowRedisplayFilters = new[] { redisplayOverride },
                        paymentMethodSave = redisplay,
                        paymentMethodSaveAllowRedisplayOverride = filter,
                        paymentMethodRemove = save,
                    },
                },
                customerSheet = new { enabled = false, features = new { paymentMethodAllowRedisplayFilters = new[] { filter, redisplayOverride }, paymentMethodRemove = redisplay } },
            },
        };

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var session = Assert.Single(Stripe.RequestsTo(SessionsPath));
        const string pe = "components[payment_element]", mpe = "components[mobile_payment_element]", cs = "components[customer_sheet]";
        var expected = new Dictionary<string, string>
        {
            ["customer"] = session.Form["customer"],
            [$"{pe}[enabled]"] = "true",
            [$"{pe}[features][payment_method_redisplay]"] = redisplay,
            [$"{pe}[features][payment_method_redisplay_limit]"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [$"{pe}[features][payment_method_allow_redisplay_filters][0]"] = filter,
            [$"{pe}[features][payment_method_save]"] = save,
            [$"{pe}[features][payment_method_save_usage]"] = saveUsage,
            [$"{pe}[features][payment_method_remove]"] = remove,
            [$"{mpe}[enabled]"] = "true",
            [$"{mpe}[features][payment_method_redisplay]"] = remove,
            [$"{mpe}[features][payment_method_allow_redisplay_filters][0]"] = redisplayOverride,
            [$"{mpe}[features][payment_method_save]"] = redisplay,
            [$"{mpe}[features][payment_method_save_allow_redisplay_override]"] = filter,
            [$"{mpe}[features][payment_method_remove]"] = save,
            [$"{cs}[enabled]"] = "false",
            [$"{cs}[features][payment_method_allow_redisplay_filters][0]"] = filter,
            [$"{cs}[features][payment_method_allow_redisplay_filters][1]"] = redisplayOverride,
            [$"{cs}[features][payment_method_remove]"] = redisplay,
        };
        Assert.Equal(expected.OrderBy(f => f.Key), session.Form.OrderBy(f => f.Key));
    }

    [Theory]
    [InlineData("""{"components":{"mobilePaymentElement":{"enabled":true}}}""", true)]
    [InlineData("""{"components":{"customerSheet":{"enabled":true}}}""", true)]
    [InlineData("""{"components":{"paymentElement":{"enabled":true},"customerSheet":{"enabled":false}}}""", false)]
    [InlineData("""{"components":{"pricingTable":{"enabled":true},"mobilePaymentElement":{"enabled":false}}}""", false)]
    public async Task The_customer_id_is_returned_only_for_the_mobile_components(string body, bool included)
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var response = await client.PostAsync("/api/customer-sessions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(included, json.RootElement.TryGetProperty("customerId", out var customerId));
        if (included)
        {
            Assert.Equal(Stripe.RequestsTo(SessionsPath).Single().Form["customer"], customerId.GetString());
        }
    }

    [Fact]
    public async Task Racing_first_requests_of_one_user_all_succeed_with_one_customer()
    {
        var userId = NewUserId();
        var request = new { components = new { pricingTable = new { enabled = true } } };

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var client = Api.CreateClientFor(userId);
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", request);
            return response.StatusCode;
        }));

        Assert.All(responses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Single(Stripe.RequestsTo(SessionsPath).Select(s => s.Form["customer"]).Distinct());
        // One creation call, not one per racer: the stand-in, like Stripe, would answer every racer's repeat of the
        // idempotency key with the same customer, so only the count shows that the lock held the others back.
        Assert.Single(Stripe.RequestsTo(CustomersPath));
    }

    [Fact]
    public async Task Each_request_is_logged_once_with_route_status_user_and_Stripe_request_id_but_no_secret()
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { pricingTable = new { enabled = true } } });

        var secret = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clientSecret").GetString()!;
        var line = Assert.Single(LogEvents, e =>
            e.Properties.TryGetValue("UserId", out var user) && user.ToString() == $"\"{userId}\"" && e.Properties.ContainsKey("StatusCode"));
        Assert.Equal("\"POST\"", line.Properties["RequestMethod"].ToString());
        Assert.Equal("\"/api/customer-sessions\"", line.Properties["Route"].ToString());
        Assert.Equal("200", line.Properties["StatusCode"].ToString());
        Assert.True(line.Properties.ContainsKey("Elapsed"));
        Assert.Matches("^\"req_[A-Za-z0-9]{14}\"$", line.Properties["StripeRequestId"].ToString());
        Assert.DoesNotContain(LogLines, l => l.Contains(secret, StringComparison.Ordinal));
    }
}
