using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Payments;
using BffSessions.Api.Payments.Budget;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Budget;

/// <summary>The budget on the request path: what is refused is never sent, and every attempt pays for its turn. Timing-sensitive.</summary>
[Collection(RunsAlone.Name)]
public sealed class StripeBudgetTests : StandInTest
{
    private const string SessionsPath = "/v1/customer_sessions";

    [Fact]
    public async Task A_call_refused_by_the_budget_never_reaches_Stripe_and_the_503_says_when_to_retry()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "10",
            ["Stripe:BudgetWait"] = "00:00:00",
        });
        using var warm = api.CreateClientFor("burst-user");
        (await warm.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose(); // creates the customer
        await Task.Delay(300); // the warm-up's turns are past
        Stripe.Reset();

        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            using var response = await warm.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
            var retryAfter = response.Headers.RetryAfter?.Delta;
            var type = response.IsSuccessStatusCode ? null : (await HttpAssert.ProblemAsync(response, response.StatusCode)).GetProperty("type").GetString();
            return (response.StatusCode, retryAfter, type);
        }));

        var served = answers.Count(a => a.StatusCode == HttpStatusCode.OK);
        var refused = answers.Where(a => a.StatusCode != HttpStatusCode.OK).ToList();
        Assert.InRange(served, 1, 3); // a turn every 100 ms, and no waiting: the burst gets the turns its own duration spans
        Assert.All(refused, a => Assert.Equal((HttpStatusCode.ServiceUnavailable, PaymentProblems.StripeBusy.Type), (a.StatusCode, a.type)));
        Assert.All(refused, a => Assert.InRange(a.retryAfter!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)));
        Assert.Equal(served, Stripe.RequestsTo(SessionsPath).Count);
    }

    [Fact]
    public async Task Every_attempt_Stripe_net_makes_waits_for_a_turn_of_its_own()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "20",
            ["Stripe:MaxNetworkRetries"] = "2",
        });
        using var client = api.CreateClientFor("retried-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        using var measurements = new MeasurementRecorder(api);
        Stripe.Reset();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(500, "api_error", message: "Stripe is having a moment."));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(3, Stripe.RequestsTo(SessionsPath).Count);
        Assert.Equal(3, measurements.Of("bffsessions.stripe.budget.wait", ("outcome", "sent")).Count);
    }

    [Fact]
    public async Task Without_a_budget_no_call_books_a_turn()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("unbudgeted-user");
        using var measurements = new MeasurementRecorder(api);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Stripe.Requests.Count);
        Assert.Empty(measurements.Of("bffsessions.stripe.budget.wait"));
    }

    [Theory]
    [InlineData("00:00:10", "00:00:10")]
    [InlineData("00:00:31", "00:01:00")]
    public async Task A_budget_wait_that_leaves_Stripe_no_time_stops_start_up(string wait, string timeout)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "10",
            ["Stripe:BudgetWait"] = wait,
            ["Stripe:Timeout"] = timeout,
        });

        var failure = Record.Exception(() => api.Server);

        Assert.Contains("BudgetWait", failure?.ToString() ?? "", StringComparison.Ordinal);
    }

    /// <summary>
    /// The Retry-After of a refusal is when the calls already booked will have gone: computed, not fixed. And Stripe's
    /// measured time is Stripe's: neither the waits for turns nor the refused call are in it.
    /// </summary>
    [Fact]
    public async Task The_retry_after_of_a_refusal_is_when_the_booked_calls_have_gone()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "1",
            ["Stripe:BudgetWait"] = "00:00:03",
            ["Stripe:Timeout"] = "00:00:10",
        });
        using var client = api.CreateClientFor("patient-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose(); // two turns: customer, session
        await Task.Delay(2100);
        using var measurements = new MeasurementRecorder(api);

        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
        {
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
            return (response.StatusCode, response.Headers.RetryAfter?.Delta);
        }));

        // Turns now, in 1, 2 and 3 seconds (the most a call may wait): the fifth would be 4 seconds away.
        Assert.Equal(4, answers.Count(a => a.StatusCode == HttpStatusCode.OK));
        var refused = Assert.Single(answers, a => a.StatusCode != HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.InRange(refused.Delta!.Value, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
        var stripeTimes = measurements.Of("bffsessions.stripe.duration");
        Assert.Equal(4, stripeTimes.Count);
        Assert.All(stripeTimes, seconds => Assert.True(seconds < 0.5, $"{seconds} s: the wait for a turn was counted as Stripe's"));
        Assert.Equal(3, measurements.Of("bffsessions.stripe.budget.wait", ("outcome", "sent")).Count(seconds => seconds > 0.5));
    }

    /// <summary>Only Stripe's rate limiters slow the deployment: a 429 about one object (locked, or busy) does not.</summary>
    [Theory]
    [InlineData(null, "rate_limit", 0.5, "rate_limit")]
    [InlineData("global-rate", "rate_limit", 0.5, "global-rate")]
    [InlineData("endpoint-concurrency", "rate_limit", 0.5, "endpoint-concurrency")]
    [InlineData("something-new", "rate_limit", 0.5, "other")]
    [InlineData(null, "lock_timeout", 1.0, null)]
    [InlineData("resource-specific", "rate_limit", 1.0, null)]
    public async Task A_rate_limit_429_slows_the_deployment_and_a_429_about_one_object_does_not(string? reason, string code, double pace, string? counted)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:RequestsPerSecond"] = "50" });
        using var client = api.CreateClientFor("throttled-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        using var measurements = new MeasurementRecorder(api);
        Stripe.Override(SessionsPath, (_, _) => new Refusal(reason, code));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(pace, api.Services.GetRequiredService<IStripeCallSchedule>().Pace, 2);
        Assert.Equal(counted is null ? 0 : 1, measurements.Of("bffsessions.stripe.rate_limited", counted is null ? null : ("reason", counted)).Count);
    }

    /// <summary>A call that wakes up well after its turn books another, within what is left of its wait: here, none.</summary>
    [Fact]
    public async Task A_call_that_wakes_late_books_again_within_what_is_left_of_its_wait()
    {
        var time = new FakeTimeProvider();
        var schedule = new ScriptedSchedule(new CallBooking(true, TimeSpan.FromMilliseconds(500)), new CallBooking(false, TimeSpan.FromSeconds(1.2)));
        var budget = new StripeBudget(Options.Create(new StripeOptions { RequestsPerSecond = 10, BudgetWait = TimeSpan.FromSeconds(1) }), schedule, time,
            new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            NullLogger<StripeBudget>.Instance);

        var waiting = budget.WaitForTurnAsync(CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(800)); // the process stalled: 300 ms past its turn

        var refused = await Assert.ThrowsAsync<StripeBudgetExhaustedException>(() => waiting);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(200)], schedule.MaxWaits);
        Assert.Equal(TimeSpan.FromSeconds(1.2), refused.RetryAfter);
    }

    private sealed class Refusal(string? reason, string code) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (reason is not null)
            {
                httpContext.Response.Headers["Stripe-Rate-Limited-Reason"] = reason;
            }

            return StripeStandIn.Error(429, "invalid_request_error", code, "Too many requests.").ExecuteAsync(httpContext);
        }
    }

    /// <summary>A schedule that answers bookings as scripted, and remembers each call's wait limit.</summary>
    private sealed class ScriptedSchedule(params CallBooking[] answers) : IStripeCallSchedule
    {
        private int _next;

        public List<TimeSpan> MaxWaits { get; } = [];

        public double Pace => 1;

        public double Share => 1;

        public bool IsFallingBack => false;

        public ValueTask<CallBooking> BookAsync(string user, bool firstOfRequest, int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken)
        {
            MaxWaits.Add(maxWait);
            return ValueTask.FromResult(answers[_next++]);
        }

        public ValueTask SlowDownAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
