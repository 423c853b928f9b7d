using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Budget;

/// <summary>The budget on the request path: what is refused is never sent, and every attempt pays for its turn.</summary>
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
        Assert.All(refused, a => Assert.Equal((HttpStatusCode.ServiceUnavailable, PaymentProblemTypes.StripeBusy), (a.StatusCode, a.type)));
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
        using var turns = new TurnCounter(api);
        Stripe.Reset();
        Stripe.Override(SessionsPath, (_, _) => StripeStandIn.Error(500, "api_error", message: "Stripe is having a moment."));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(3, Stripe.RequestsTo(SessionsPath).Count);
        Assert.Equal(3, turns.Sent);
    }

    [Fact]
    public async Task Without_a_budget_no_call_books_a_turn()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateClientFor("unbudgeted-user");
        using var turns = new TurnCounter(api);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, Stripe.Requests.Count);
        Assert.Equal(0, turns.Sent + turns.Refused);
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

    /// <summary>Counts this host's bookings (bffsessions.stripe.budget.wait), by outcome.</summary>
    private sealed class TurnCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _sent;
        private int _refused;

        public TurnCounter(ApiFactory api)
        {
            var meters = api.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "bffsessions.stripe.budget.wait" && instrument.Meter.Scope == meters)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "outcome")
                    {
                        Interlocked.Increment(ref tag.Value as string == "sent" ? ref _sent : ref _refused);
                    }
                }
            });
            _listener.Start();
        }

        public int Sent => Volatile.Read(ref _sent);

        public int Refused => Volatile.Read(ref _refused);

        public void Dispose() => _listener.Dispose();
    }
}
