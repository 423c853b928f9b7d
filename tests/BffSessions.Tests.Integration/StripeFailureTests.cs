using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Serilog.Events;

namespace BffSessions.Tests;

/// <summary>Stripe's failures, injected at the loopback stand-in, become problems without Stripe's internals or our key.</summary>
public sealed class StripeFailureTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private const string SessionsPath = "/v1/customer_sessions";
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    [Fact]
    public async Task Stripe_5xx_is_retried_under_new_keys_and_then_answered_with_502()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(500, "api_error", message: "Internal secret-ish details sk_live_notreally"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        // The call and two retries, as many as Stripe.net would make; each under a new key, since Stripe keeps the
        // 500 for the key it answered and a retry under it would only be replayed.
        var attempts = Stripe.RequestsTo(SessionsPath);
        Assert.Equal(3, attempts.Count);
        Assert.Equal(3, attempts.Select(a => a.IdempotencyKey).Distinct().Count());
        AssertLogged(LogEventLevel.Error, "Stripe answered 500");
        Assert.Matches("^req_[A-Za-z0-9]{14}$", problem.GetProperty("stripeRequestId").GetString());
        Assert.DoesNotContain("api_error", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transient_Stripe_5xx_is_absorbed_by_the_retry()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (request, attempt) => attempt == 1
            ? StripeStandIn.Error(503, "api_error")
            : Results.Json(StripeStandIn.Session(request.Form["customer"])));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var attempts = Stripe.RequestsTo(SessionsPath);
        Assert.Equal(2, attempts.Count);
        // Stripe keeps the 503 for the first key: the retry that succeeds went under a new one.
        Assert.Equal(2, attempts.Select(a => a.IdempotencyKey).Distinct().Count());
        Assert.DoesNotContain(attempts, a => a.Replayed);
    }

    [Fact]
    public async Task Stripe_rate_limiting_is_answered_with_503_and_Retry_After()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(429, "invalid_request_error", "rate_limit", "Too many requests."));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(PaymentProblems.StripeRateLimited.Type, problem.GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta); // Stripe gave no hint: our default
        Assert.Single(Stripe.RequestsTo(SessionsPath)); // Stripe.net does not retry a 429 without Stripe-Should-Retry
        AssertLogged(LogEventLevel.Warning, "Stripe rate-limited the request");
        Assert.True(problem.TryGetProperty("stripeRequestId", out _));
    }

    /// <summary>Stripe's own Retry-After is passed on to the front end, capped at a minute.</summary>
    [Theory]
    [InlineData("7", 7)]
    [InlineData("99999999", 60)]
    public async Task Stripes_own_Retry_After_is_passed_on_to_the_front_end_capped_at_a_minute(string stripes, int passedOnSeconds)
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => new WithHeader("Retry-After", stripes,
            StripeStandIn.Error(429, "invalid_request_error", "rate_limit", "Too many requests.")));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(passedOnSeconds), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task A_key_without_the_permission_is_credentials_rejected_not_a_retryable_error()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(403, "invalid_request_error", message: "The provided key does not have access."));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeCredentialsRejected.Type, problem.GetProperty("type").GetString());
        Assert.Contains(LogEvents, e => e.Level == LogEventLevel.Fatal && e.RenderMessage().Contains("Stripe:SecretKey", StringComparison.Ordinal));
    }

    /// <summary>The one check that keeps one user's client secret from ever reaching another: the session's customer is the one asked for.</summary>
    [Fact]
    public async Task A_session_Stripe_made_for_another_customer_is_a_502_and_never_handed_out()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => Results.Json(StripeStandIn.Session("cus_someone_else")));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        Assert.DoesNotContain("cuss_secret_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        AssertLogged(LogEventLevel.Error, "belongs to another customer than the one asked for");
    }

    [Theory]
    [InlineData(-60)]
    [InlineData(2 * 24 * 3600)]
    public async Task A_session_whose_expiry_is_not_within_the_next_day_is_a_502(long expiresInSeconds)
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (request, _) =>
        {
            var session = StripeStandIn.Session(request.Form["customer"]);
            session["expires_at"] = DateTimeOffset.UtcNow.AddSeconds(expiresInSeconds).ToUnixTimeSeconds();
            return Results.Json(session);
        });

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        AssertLogged(LogEventLevel.Error, "expiry is not within the next day");
    }

    [Fact]
    public async Task A_resource_missing_about_anything_but_the_customer_is_a_502_without_a_replacement()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(400, "invalid_request_error", "resource_missing", "No such pricing table.", "components"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.RequestsTo("/v1/customers"));
        Assert.Single(Stripe.RequestsTo(SessionsPath));
    }

    [Fact]
    public async Task A_Stripe_that_does_not_answer_in_time_gets_504_within_the_budget()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, async (_, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20));
            return Results.Ok();
        });
        var started = DateTimeOffset.UtcNow;

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.Equal(PaymentProblems.StripeTimeout.Type, problem.GetProperty("type").GetString());
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(15), "the budget (3 s in tests) bounds the wait, not the upstream");
        AssertLogged(LogEventLevel.Error, "Stripe did not answer within");
    }

    [Fact]
    public async Task A_rejected_API_key_is_a_502_and_a_critical_log_event_without_the_key()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(401, "invalid_request_error",
            message: $"Invalid API Key provided: {ApiFactory.StripeKey}"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeCredentialsRejected.Type, problem.GetProperty("type").GetString());
        Assert.DoesNotContain("API Key", problem.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains(LogEvents, e => e.Level == LogEventLevel.Fatal && e.RenderMessage().Contains("Stripe:SecretKey", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_Stripe_invalid_request_is_a_502_with_Stripes_request_id_and_the_detail_only_in_the_log()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(400, "invalid_request_error", "parameter_unknown", "Received unknown parameter: x", "x"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        Assert.DoesNotContain("unknown parameter", problem.ToString(), StringComparison.Ordinal);
        var requestId = problem.GetProperty("stripeRequestId").GetString()!;
        Assert.Contains(LogLines, l => l.Contains("parameter_unknown", StringComparison.Ordinal) && l.Contains(requestId, StringComparison.Ordinal));
    }

    /// <summary>
    /// Stripe's messages echo what was sent. Whatever they carry (a line break that would start a forged log line, an
    /// address in any form) reaches no log line as it is, in any format: one sanitiser sees every property.
    /// </summary>
    [Fact]
    public async Task A_Stripe_message_echoing_a_line_break_or_an_address_is_logged_on_one_line_with_the_address_masked()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(400, "invalid_request_error", "parameter_invalid",
            "Invalid value for 'name': Ada\n[12:00:00 INF] forged line \"ada lovelace\"@example.com ada＠example.com <ada@example.com>", "name"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        var logged = Assert.Single(LogEvents, e => e.Properties.ContainsKey("StripeMessage"));
        var line = logged.RenderMessage();
        Assert.DoesNotContain('\n', line);
        Assert.Contains("forged line", line, StringComparison.Ordinal); // the rest of the message is kept, on this line
        Assert.DoesNotContain("ada", line.Replace("Ada?[12", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("example.com", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"object\":\"customer_session\",")]
    [InlineData("{\"object\":\"customer_session\",\"expires_at\":1893456000}")]
    [InlineData("{\"object\":\"customer_session\",\"client_secret\":\"\",\"expires_at\":1893456000}")]
    [InlineData("{\"object\":\"customer_session\",\"client_secret\":\"cuss_secret_x\",\"expires_at\":\"soon\"}")]
    [InlineData("[\"customer_session\"]")]
    public async Task Malformed_JSON_or_a_session_without_a_secret_from_Stripe_is_a_502(string answer)
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => Results.Text(answer, "application/json"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        Assert.DoesNotContain("customer_session", problem.ToString(), StringComparison.Ordinal);
        AssertLogged(LogEventLevel.Error, "Stripe answered");
    }

    [Fact]
    public async Task Stripe_rate_limiting_that_asks_for_a_retry_is_retried_by_Stripe_net_and_then_answered_with_503()
    {
        using var client = await WarmClientAsync();
        Stripe.Override(SessionsPath, (_, _) => new WithHeader("Stripe-Should-Retry", "true", StripeStandIn.Error(429, "invalid_request_error", "lock_timeout", "Too many requests.")));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(PaymentProblems.StripeRateLimited.Type, problem.GetProperty("type").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(3, Stripe.RequestsTo(SessionsPath).Count); // Stripe-Should-Retry: true makes Stripe.net retry twice
    }

    [Fact]
    public async Task A_hung_Stripe_call_gets_504_while_health_and_other_users_are_served()
    {
        using var stuck = await WarmClientAsync();
        using var other = Api.CreateClientFor(NewUserId());
        using var probe = Api.CreateApiClient();
        var hung = new TaskCompletionSource();
        Stripe.Override(SessionsPath, async (request, attempt) =>
        {
            if (attempt == 1)
            {
                hung.SetResult();
                await Task.Delay(TimeSpan.FromSeconds(20));
            }

            return Results.Json(StripeStandIn.Session(request.Form["customer"]));
        });
        var hungCall = stuck.PostAsJsonAsync("/api/customer-sessions", Request);
        await hung.Task;

        var started = DateTimeOffset.UtcNow;
        using var live = await probe.GetAsync("/health/live");
        using var served = await other.PostAsJsonAsync("/api/customer-sessions", Request);
        var servedIn = DateTimeOffset.UtcNow - started;
        using var timedOut = await hungCall;

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.True(servedIn < TimeSpan.FromSeconds(2), $"another user waited {servedIn} behind the hung call");
        var problem = await HttpAssert.ProblemAsync(timedOut, HttpStatusCode.GatewayTimeout);
        Assert.Equal(PaymentProblems.StripeTimeout.Type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_failed_customer_creation_stores_nothing_and_the_next_request_succeeds()
    {
        using var client = Api.CreateClientFor(NewUserId());
        Stripe.Override("/v1/customers", (_, _) => StripeStandIn.Error(500, "api_error"));
        using var failed = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        await HttpAssert.ProblemAsync(failed, HttpStatusCode.BadGateway);
        Assert.Empty(Stripe.RequestsTo(SessionsPath));

        Stripe.Reset();
        using var retried = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Single(Stripe.RequestsTo("/v1/customers"));
    }

    private void AssertLogged(LogEventLevel level, string text) =>
        Assert.Contains(LogEvents, e => e.Level == level && e.RenderMessage().Contains(text, StringComparison.Ordinal));

    /// <summary>An answer with one more header.</summary>
    private sealed class WithHeader(string name, string value, IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers[name] = value;
            return inner.ExecuteAsync(httpContext);
        }
    }

    /// <summary>A client whose user already has a customer, so the fault hits the session call.</summary>
    private async Task<HttpClient> WarmClientAsync()
    {
        var client = Api.CreateClientFor(NewUserId());
        using var warm = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        Stripe.Reset();
        return client;
    }
}
