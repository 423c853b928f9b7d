using System.Net;
using System.Net.Http.Json;
using System.Text;
using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Hardening;

/// <summary>Rate limits, the Stripe in-flight bound, request limits and security headers, each on a host of its own.</summary>
public sealed class LimitsAndHeadersTests : StandInTest
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    [Fact]
    public async Task A_users_burst_beyond_the_bucket_gets_429_with_Retry_After_and_other_users_are_not_affected()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["RateLimiting:PerUserBurst"] = "3",
            ["RateLimiting:PerUserPerMinute"] = "6",
        });
        using var script = api.CreateClientFor("scripted-user");
        using var person = api.CreateClientFor("another-user");

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 5; i++)
        {
            var response = await script.PostAsJsonAsync("/api/customer-sessions", Request);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited ??= response;
            }
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        var problem = await HttpAssert.ProblemAsync(limited!, HttpStatusCode.TooManyRequests);
        Assert.Equal(CommonProblems.RateLimited.Type, problem.GetProperty("type").GetString());
        Assert.InRange(limited!.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 10);
        Assert.Equal(3, Stripe.RequestsTo("/v1/customer_sessions").Count); // the refused ones never reached Stripe
        Assert.Equal(HttpStatusCode.OK, (await person.PostAsJsonAsync("/api/customer-sessions", Request)).StatusCode);
        Assert.Contains(Logs.Lines, l => l.Contains("Rate limit reached", StringComparison.Ordinal));
        Assert.Null(api.Services.GetService<SharedUserBuckets>()); // on SQLite the buckets are this instance's, in memory
    }

    /// <summary>Where a gateway in front limits each user, the service's own bucket can be turned off: the same burst all passes.</summary>
    [Fact]
    public async Task With_the_per_user_limit_off_a_burst_beyond_the_bucket_is_served()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["RateLimiting:PerUserEnabled"] = "false",
            ["RateLimiting:PerUserBurst"] = "3",
            ["RateLimiting:PerUserPerMinute"] = "6",
        });
        using var script = api.CreateClientFor("unlimited-user");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await script.PostAsJsonAsync("/api/customer-sessions", Request);
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(5, Stripe.RequestsTo("/v1/customer_sessions").Count);
    }

    [Fact]
    public async Task Past_the_bound_on_Stripe_calls_in_flight_requests_get_503_with_Retry_After_instead_of_queueing()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:MaxCallsInFlight"] = "2" });
        var users = Enumerable.Range(0, 6).Select(i => $"busy-user-{i}").ToList();
        foreach (var user in users)
        {
            using var warm = api.CreateClientFor(user);
            Assert.Equal(HttpStatusCode.OK, (await warm.PostAsJsonAsync("/api/customer-sessions", Request)).StatusCode);
        }

        var release = new TaskCompletionSource();
        Stripe.Override("/v1/customer_sessions", async (request, _) =>
        {
            await release.Task;
            return Results.Json(StripeStandIn.Session(request.Form["customer"]));
        });

        var calls = users.Select(async user =>
        {
            using var client = api.CreateClientFor(user);
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);
            return (response.StatusCode, response.Headers.RetryAfter, Type: response.StatusCode == HttpStatusCode.ServiceUnavailable
                ? (await HttpAssert.ProblemAsync(response, HttpStatusCode.ServiceUnavailable)).GetProperty("type").GetString()
                : null);
        }).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (calls.Count(c => c.IsCompleted) < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        release.SetResult();
        var results = await Task.WhenAll(calls);

        Assert.Equal(2, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        var busy = results.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Equal(4, busy.Count);
        Assert.All(busy, r => Assert.Equal(PaymentProblems.StripeBusy.Type, r.Type));
        Assert.All(busy, r => Assert.NotNull(r.RetryAfter));
    }

    [Fact]
    public async Task A_body_over_16_KiB_gets_413_before_anything_reads_it()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("big-body-user");
        var padding = new string(' ', 16 * 1024);

        using var response = await client.PostAsync("/api/customer-sessions",
            new StringContent("{\"components\":{\"pricingTable\":{\"enabled\":true}}" + padding + "}", Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(CommonProblems.BodyTooLarge.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }

    [Fact]
    public async Task A_page_on_an_allowed_origin_can_read_a_refusal_and_its_Retry_After()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Cors:AllowedOrigins:0"] = "https://shop.example",
            ["RateLimiting:PerUserBurst"] = "1",
            ["RateLimiting:PerUserPerMinute"] = "1",
        });
        using var client = api.CreateClientFor("cross-origin-user");
        client.DefaultRequestHeaders.Add("Origin", "https://shop.example");

        using var tooLarge = await client.PostAsync("/api/customer-sessions",
            new StringContent("{\"components\":{}}" + new string(' ', 20 * 1024), Encoding.UTF8, "application/json"));
        (await client.PostAsJsonAsync("/api/customer-sessions", Request)).Dispose();
        using var limited = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        await HttpAssert.ProblemAsync(tooLarge, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("https://shop.example", tooLarge.Headers.GetValues("Access-Control-Allow-Origin").Single());
        await HttpAssert.ProblemAsync(limited, HttpStatusCode.TooManyRequests);
        Assert.Equal("https://shop.example", limited.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("Retry-After", string.Join(',', limited.Headers.GetValues("Access-Control-Expose-Headers")), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The browser kit times renewals by the answer's Date (the service's clock): a page on another origin must read it too.</summary>
    [Fact]
    public async Task A_page_on_an_allowed_origin_can_read_the_answer_s_Date()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Cors:AllowedOrigins:0"] = "https://shop.example",
        });
        using var client = api.CreateClientFor("cross-origin-date-user");
        client.DefaultRequestHeaders.Add("Origin", "https://shop.example");

        using var minted = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(HttpStatusCode.OK, minted.StatusCode);
        var exposed = string.Join(',', minted.Headers.GetValues("Access-Control-Expose-Headers")).Split(',', StringSplitOptions.TrimEntries);
        Assert.Contains("Date", exposed, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Every_response_says_nosniff_success_error_and_health_alike()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("header-user");

        using var ok = await client.PostAsJsonAsync("/api/customer-sessions", Request);
        using var bad = await client.PostAsync("/api/customer-sessions", new StringContent("{", Encoding.UTF8, "application/json"));
        using var anonymous = await api.CreateApiClient().PostAsJsonAsync("/api/customer-sessions", Request);
        using var live = await client.GetAsync("/health/live");
        using var missing = await client.GetAsync("/no-such-page");

        Assert.All([ok, bad, anonymous, live, missing], r => Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single()));
        Assert.True(ok.Headers.CacheControl!.NoStore);
    }

    [Fact]
    public async Task Outside_Development_HTTPS_is_enforced_with_HSTS_and_a_redirect()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Production", new Dictionary<string, string?> { ["https_port"] = "443" });
        // HSTS is never sent for localhost (a browser would pin it for every local app), so a real host name.
        var https = api.CreateDefaultClient(new Uri("https://bff.example"), new LeakGuardHandler());
        var http = api.CreateDefaultClient(new Uri("http://bff.example"));

        using var secure = await https.GetAsync("/health/live");
        using var plain = await http.GetAsync("/health/live");

        Assert.Contains("max-age=", secure.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, plain.StatusCode);
        Assert.Equal("https://bff.example/health/live", plain.Headers.Location?.ToString());
    }

    [Fact]
    public async Task Kestrel_sends_no_Server_header()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = new HttpClient { BaseAddress = api.StartKestrel() };

        using var response = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Server"));
    }

}
