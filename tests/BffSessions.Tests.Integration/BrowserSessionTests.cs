using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Api.Demo;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>A Development host without an identity provider: the local sign-in form, the cookie session, CSRF, the demo page.</summary>
public sealed class DevelopmentFixture : IAsyncLifetime
{
    public StripeStandIn Stripe { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public ApiFactory Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stripe = await TestStripe.StartAsync();
        Api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Stripe:PublishableKey"] = "pk_test_demo",
            ["Stripe:PricingTableId"] = "prctbl_demo",
            ["Stripe:BuyButtonId"] = "buy_btn_demo",
            ["Cors:AllowedOrigins:0"] = "https://shop.example",
        });
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Stripe.DisposeAsync();
        Assert.Empty(Secrets.FoundIn(Logs.Lines));
    }
}

public sealed class BrowserSessionTests(DevelopmentFixture fixture) : IClassFixture<DevelopmentFixture>
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    private ApiFactory Api => fixture.Api;

    [Fact]
    public async Task Signing_in_sets_an_encrypted_host_only_HttpOnly_Secure_SameSite_Strict_cookie()
    {
        using var client = Api.CreateApiClient();

        using var response = await SignInAsync(client, "cookie-user", returnUrl: "/checkout");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/checkout", response.Headers.Location?.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Host-bff=", StringComparison.Ordinal));
        var attributes = cookie.Split(';', StringSplitOptions.TrimEntries).Skip(1).Select(a => a.ToLowerInvariant()).ToList();
        Assert.Contains("path=/", attributes);
        Assert.Contains("secure", attributes);
        Assert.Contains("httponly", attributes);
        Assert.Contains("samesite=strict", attributes);
        Assert.DoesNotContain(attributes, a => a.StartsWith("domain=", StringComparison.Ordinal));
        // No Expires: a browser-session cookie. The ticket inside carries the sliding expiry (see /bff/user).
        Assert.DoesNotContain(attributes, a => a.StartsWith("expires=", StringComparison.Ordinal));
        Assert.DoesNotContain("cookie-user", cookie, StringComparison.Ordinal); // encrypted, not a readable ticket
    }

    [Fact]
    public async Task A_cookie_session_with_the_CSRF_header_gets_a_session_for_its_own_user()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "csrf-user", email: "csrf@example.com")).Dispose();

        using var response = await PostWithCsrfAsync(client);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var customers = fixture.Stripe.RequestsTo("/v1/customers");
        var created = customers[customers.Count - 1];
        Assert.Equal("csrf-user", created.Form["metadata[user_id]"]);
        Assert.Equal("csrf@example.com", created.Form["email"]);
    }

    [Fact]
    public async Task A_cookie_session_without_the_CSRF_header_gets_a_401_problem_and_a_log_event()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "no-header-user")).Dispose();
        var sessionsBefore = fixture.Stripe.RequestsTo("/v1/customer_sessions").Count;
        var firstLogLine = fixture.Logs.Lines.Count;

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(IdentityProblems.CsrfHeaderMissing.Type, problem.GetProperty("type").GetString());
        Assert.Contains("X-CSRF: 1", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(sessionsBefore, fixture.Stripe.RequestsTo("/v1/customer_sessions").Count);
        Assert.Contains(fixture.Logs.Lines.Skip(firstLogLine), l => l.Contains("without the \"X-CSRF\" header", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_wrong_CSRF_header_value_is_refused_too()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "wrong-header-user")).Dispose();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = JsonContent.Create(Request) };
        request.Headers.Add("X-CSRF", "true");

        using var response = await client.SendAsync(request);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_bearer_request_needs_no_CSRF_header_even_on_this_host()
    {
        using var client = Api.CreateClientFor("bearer-user");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_user_endpoint_returns_claims_expiry_and_a_logout_url_and_401_when_signed_out()
    {
        using var client = Api.CreateApiClient();
        using var signedOut = await GetWithCsrfAsync(client, "/bff/user");
        await HttpAssert.ProblemAsync(signedOut, HttpStatusCode.Unauthorized);
        (await SignInAsync(client, "claims-user", email: "claims@example.com")).Dispose();

        using var response = await GetWithCsrfAsync(client, "/bff/user");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var claims = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .ToDictionary(c => c.GetProperty("type").GetString()!, c => c.GetProperty("value"));
        Assert.Equal("claims-user", claims["sub"].GetString());
        Assert.Equal("claims@example.com", claims["email"].GetString());
        Assert.InRange(claims["bff:session_expires_in"].GetInt64(), 3500, 3600);
        Assert.Equal($"/bff/logout?sid={claims["sid"].GetString()}", claims["bff:logout_url"].GetString());
    }

    [Fact]
    public async Task The_user_endpoint_also_requires_the_CSRF_header()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "user-endpoint-user")).Dispose();

        using var response = await client.GetAsync("/bff/user");

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    [InlineData("javascript:alert(1)")]
    [InlineData("/%2F%2Fevil.example")]
    [InlineData("/%5Cevil.example")]
    [InlineData("/%09/evil.example")]
    [InlineData("/café")]
    [InlineData("/.//evil.example")]
    public async Task Sign_in_refuses_a_returnUrl_that_leaves_the_site(string returnUrl)
    {
        using var client = Api.CreateApiClient();

        using var form = await client.GetAsync($"/bff/login?returnUrl={Uri.EscapeDataString(returnUrl)}");
        using var post = await SignInAsync(client, "redirect-user", returnUrl: returnUrl);

        Assert.Equal(IdentityProblems.InvalidReturnUrl.Type, (await HttpAssert.ProblemAsync(form, HttpStatusCode.BadRequest)).GetProperty("type").GetString());
        Assert.Equal(IdentityProblems.InvalidReturnUrl.Type, (await HttpAssert.ProblemAsync(post, HttpStatusCode.BadRequest)).GetProperty("type").GetString());
        Assert.False(post.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Sign_in_refuses_a_returnUrl_with_a_control_character()
    {
        using var client = Api.CreateApiClient();

        using var response = await SignInAsync(client, "control-user", returnUrl: "/\t/evil.example");

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    [InlineData("/%2F%2Fevil.example")]
    [InlineData("/%5Cevil.example")]
    [InlineData("/%09/evil.example")]
    [InlineData("/café")]
    [InlineData("/.//evil.example")]
    public async Task Logout_refuses_a_returnUrl_that_is_not_a_plain_local_path_and_keeps_the_session(string returnUrl)
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "logout-redirect-user")).Dispose();
        var logoutUrl = await LogoutUrlAsync(client);

        using var logout = await client.GetAsync($"{logoutUrl}&returnUrl={Uri.EscapeDataString(returnUrl)}");

        var problem = await HttpAssert.ProblemAsync(logout, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.InvalidReturnUrl.Type, problem.GetProperty("type").GetString());
        using var stillIn = await GetWithCsrfAsync(client, "/bff/user");
        Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
    }

    /// <summary>
    /// A cookie request to /bff/user is a cookie request whatever else it carries: an Authorization header, even a
    /// valid token of someone else's, does not exempt it from the CSRF rule.
    /// </summary>
    [Theory]
    [InlineData("x")]
    [InlineData("Bearer not-a-token")]
    [InlineData("valid token")]
    public async Task An_Authorization_header_does_not_exempt_a_cookie_request_from_the_CSRF_rule(string authorization)
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "csrf-bypass-user")).Dispose();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/bff/user");
        request.Headers.TryAddWithoutValidation("Authorization", authorization == "valid token" ? "Bearer " + ApiFactory.Token("someone-else") : authorization);

        using var response = await client.SendAsync(request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(IdentityProblems.CsrfHeaderMissing.Type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_refused_requests_Origin_reaches_the_log_cut_short_and_without_control_characters()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "origin-log-user")).Dispose();
        var firstLogLine = fixture.Logs.Lines.Count;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = JsonContent.Create(Request) };
        request.Headers.TryAddWithoutValidation("Origin", "https://evil.example\u0001\u001b[31m" + new string('o', 5_000));

        using var response = await client.SendAsync(request);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        var refusal = Assert.Single(fixture.Logs.Events.Skip(firstLogLine), e => e.RenderMessage().Contains("without the", StringComparison.Ordinal));
        var origin = refusal.Properties["Origin"].ToString().Trim('"');
        Assert.True(origin.Length <= 201, $"{origin.Length} characters of Origin were logged");
        Assert.StartsWith("https://evil.example??[31m", origin, StringComparison.Ordinal);
    }

    public static TheoryData<string, HttpContent> UnreadableForms => new()
    {
        { "multipart without a boundary", new StringContent("userId=x", System.Text.Encoding.UTF8, "multipart/form-data") },
        { "more fields than ASP.NET Core reads", new FormUrlEncodedContent(Enumerable.Range(0, 1100).Select(i => KeyValuePair.Create($"f{i}", "x"))) },
        { "a control character in the email", new FormUrlEncodedContent(new Dictionary<string, string> { ["userId"] = "u", ["email"] = "a\0b@example.com" }) },
        { "a control character in the user id", new FormUrlEncodedContent(new Dictionary<string, string> { ["userId"] = "u\0v" }) },
        { "a user id of 256 characters", new FormUrlEncodedContent(new Dictionary<string, string> { ["userId"] = new string('u', 256) }) },
    };

    [Theory]
    [MemberData(nameof(UnreadableForms))]
    public async Task A_sign_in_form_that_cannot_be_used_is_a_400_problem_and_signs_no_one_in(string why, HttpContent form)
    {
        using var client = Api.CreateApiClient();

        using var response = await client.PostAsync("/bff/login", form);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)), why);
    }

    [Fact]
    public async Task Another_site_cannot_sign_a_browser_in()
    {
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Add("Origin", "https://evil.example");

        using var response = await SignInAsync(client, "attacker");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal(IdentityProblems.CrossSiteSignIn.Type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task The_local_sign_in_form_is_served_in_Development()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.GetAsync("/bff/login?returnUrl=/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<form method=\"post\" action=\"/bff/login\">", html, StringComparison.Ordinal);
        Assert.Contains("name=\"userId\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_by_GET_needs_the_sessions_sid_and_then_ends_the_session()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "logout-user")).Dispose();
        var logoutUrl = await LogoutUrlAsync(client);

        using var forged = await client.GetAsync("/bff/logout?sid=guessed");
        Assert.Equal(IdentityProblems.LogoutNotConfirmed.Type, (await HttpAssert.ProblemAsync(forged, HttpStatusCode.BadRequest)).GetProperty("type").GetString());
        using var stillIn = await PostWithCsrfAsync(client);
        Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);

        using var logout = await client.GetAsync(logoutUrl + "&returnUrl=/bye");
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Equal("/bye", logout.Headers.Location?.OriginalString);
        Assert.Contains(logout.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Host-bff=;", StringComparison.Ordinal));

        using var afterwards = await PostWithCsrfAsync(client);
        await HttpAssert.ProblemAsync(afterwards, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_by_POST_needs_the_CSRF_header()
    {
        using var client = Api.CreateApiClient();
        (await SignInAsync(client, "post-logout-user")).Dispose();

        using var withoutHeader = await client.PostAsync("/bff/logout", null);
        await HttpAssert.ProblemAsync(withoutHeader, HttpStatusCode.BadRequest);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/bff/logout");
        request.Headers.Add("X-CSRF", "1");
        using var logout = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        using var user = await GetWithCsrfAsync(client, "/bff/user");
        await HttpAssert.ProblemAsync(user, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_demo_page_is_served_with_a_CSP_that_allows_only_Stripe_from_outside()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("https://js.stripe.com/v3/", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var csp = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(DemoExtensions.ContentSecurityPolicy, csp);
        var external = csp.Split(' ').Where(t => t.StartsWith("https://", StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(["https://*.stripe.com", "https://api.stripe.com", "https://hooks.stripe.com", "https://js.stripe.com"], external.Select(t => t.TrimEnd(';')).Distinct());
    }

    [Fact]
    public async Task The_demo_page_has_a_favicon()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.GetAsync("/favicon.ico");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/x-icon", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal([0, 0, 1, 0], (await response.Content.ReadAsByteArrayAsync())[..4]);
    }

    [Fact]
    public async Task The_config_endpoint_hands_the_page_public_values_only()
    {
        using var client = Api.CreateApiClient();

        var config = await client.GetFromJsonAsync<JsonElement>("/api/config");

        Assert.Equal("pk_test_demo", config.GetProperty("publishableKey").GetString());
        Assert.Equal("prctbl_demo", config.GetProperty("pricingTableId").GetString());
        Assert.Equal("buy_btn_demo", config.GetProperty("buyButtonId").GetString());
        Assert.DoesNotContain("sk_", config.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CORS_allows_credentials_and_the_CSRF_header_only_for_configured_origins()
    {
        using var client = Api.CreateApiClient();

        using var allowed = await PreflightAsync(client, "https://shop.example");
        using var other = await PreflightAsync(client, "https://evil.example");

        Assert.Equal("https://shop.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", allowed.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Contains("X-CSRF", string.Join(',', allowed.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Swagger_UI_sends_the_CSRF_header_so_a_signed_in_browser_can_try_the_API()
    {
        using var client = Api.CreateApiClient();

        var script = await client.GetStringAsync("/swagger/index.js");

        var interceptors = System.Text.RegularExpressions.Regex.Match(script, @"interceptors = JSON\.parse\('(.*)'\);").Groups[1].Value;
        var request = JsonDocument.Parse(interceptors).RootElement.GetProperty("RequestInterceptorFunction").GetString();
        Assert.Equal("(request) => { request.headers['X-CSRF'] = '1'; return request; }", request);
    }

    private static Task<HttpResponseMessage> SignInAsync(HttpClient client, string userId, string? email = null, string returnUrl = "/") =>
        BffRequests.SignInAsync(client, userId, email, returnUrl);

    private static Task<HttpResponseMessage> PostWithCsrfAsync(HttpClient client) => BffRequests.PostSessionAsync(client);

    private static async Task<HttpResponseMessage> GetWithCsrfAsync(HttpClient client, string path)
    {
        using var request = BffRequests.WithCsrf(HttpMethod.Get, path);
        return await client.SendAsync(request);
    }

    private static async Task<string> LogoutUrlAsync(HttpClient client)
    {
        using var response = await GetWithCsrfAsync(client, "/bff/user");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .Single(c => c.GetProperty("type").GetString() == "bff:logout_url").GetProperty("value").GetString()!;
    }

    private static async Task<HttpResponseMessage> PreflightAsync(HttpClient client, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/api/customer-sessions");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "content-type,x-csrf");
        return await client.SendAsync(request);
    }
}

/// <summary>Outside Development there is no local sign-in and, unless Demo:Enabled, no demo page.</summary>
public sealed class ProductionSignInTests : StandInTest
{
    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    [InlineData("Test")]
    public async Task The_local_sign_in_does_not_exist_outside_Development(string environment)
    {
        await using var api = new ApiFactory(Stripe, Logs, environment);
        using var client = api.CreateApiClient();

        using var form = await client.GetAsync("/bff/login");
        using var post = await client.PostAsync("/bff/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["userId"] = "intruder" }));

        Assert.Equal(HttpStatusCode.NotFound, form.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        Assert.False(post.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task The_demo_page_is_off_outside_Development_unless_enabled()
    {
        await using var off = new ApiFactory(Stripe, Logs, "Production");
        await using var on = new ApiFactory(Stripe, Logs, "Production", new Dictionary<string, string?> { ["Demo:Enabled"] = "true" });

        using var offPage = await off.CreateApiClient().GetAsync("/");
        using var offConfig = await off.CreateApiClient().GetAsync("/api/config");
        using var onPage = await on.CreateApiClient().GetAsync("/");

        Assert.Equal(HttpStatusCode.NotFound, offPage.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, offConfig.StatusCode);
        Assert.Equal(HttpStatusCode.OK, onPage.StatusCode);
        Assert.True(onPage.Headers.Contains("Content-Security-Policy"));
    }
}
