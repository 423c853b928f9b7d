using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Payments;
using BffSessions.Api.Payments.Budget;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace BffSessions.Tests.Budget;

/// <summary>
/// The proof of the budget: a Stripe stand-in that enforces a limit of its own, instances with a budget below it, and
/// a rush of four times the budget. Timing-sensitive, so it runs alone.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class StripeBudgetRushTests(ITestOutputHelper output) : StandInTest
{
    private const int StripeLimit = 20;
    private const int Budget = 10;
    private const int Users = 8;

    private PostgresServer? _database;

    [SkippableTheory]
    [InlineData("Sqlite", 1)]
    [InlineData("Postgres", 2)]
    public async Task A_rush_of_four_times_the_budget_is_served_at_the_budget_and_Stripe_never_refuses(string provider, int instances)
    {
        var apis = await StartAsync(provider, instances, new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = Budget.ToString(CultureInfo.InvariantCulture),
            ["Stripe:BudgetWait"] = "00:00:01",
            ["Stripe:Timeout"] = "00:00:05",
        });
        var limit = StripeRateLimit.Enforce(Stripe, StripeLimit);
        var clients = await WarmClientsAsync(apis);

        // One rush; a second only when the first could not be offered (the load generator fell behind).
        for (var attempt = 1; ; attempt++)
        {
            var measurements = apis.Select(api => new MeasurementRecorder(api)).ToList();

            // 40 sessions a second for 5 s, spread over the instances and users; half-way, the load balancer's question.
            var pausedBefore = GC.GetTotalPauseDuration();
            var rushStart = Stopwatch.GetTimestamp();
            var health = Task.Run(async () =>
            {
                await Task.Delay(2500);
                return await Task.WhenAll(apis.Select(async api =>
                {
                    using var ready = await api.CreateApiClient().GetAsync("/health/ready");
                    return ready.StatusCode;
                }));
            });
            var (answers, lastLeftLate) = await OpenLoopLoad.RunAsync(200, 4 * Budget, AtRandom(clients), BffRequests.PricingTable);
            var rushEnd = Stopwatch.GetTimestamp();
            var after = new List<(HttpStatusCode Status, TimeSpan Took)>();
            for (var i = 0; i < 5; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await clients[i % clients.Count].PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
                after.Add((response.StatusCode, Stopwatch.GetElapsedTime(started)));
                await Task.Delay(200);
            }

            output.WriteLine($"GC paused {(GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds:0} ms during the rush; heap {GC.GetTotalMemory(false) / 1048576} MiB; gen2 collections so far {GC.CollectionCount(2)}");
            var served = answers.Where(a => a.Status == HttpStatusCode.OK).ToList();
            var turnedAway = answers.Where(a => a.Status != HttpStatusCode.OK).ToList();
            var arrivals = limit.Arrivals.Where(a => a.At >= rushStart && a.At < rushEnd).ToList();
            var p95 = served.Select(a => a.Latency).Order().ElementAt((int)Math.Ceiling(served.Count * 0.95) - 1);
            Report(provider, answers, arrivals, rushStart, limit, p95, lastLeftLate);
            if (lastLeftLate >= TimeSpan.FromMilliseconds(500) && attempt == 1)
            {
                // The VM's neighbours took the cores: this rush measured the machine, not the budget. Once more.
                output.WriteLine($"attempt 1: the load generator fell behind by {lastLeftLate}; running the rush again");
                await Task.Delay(2000); // the first rush's turns have all gone by
                continue;
            }


            Assert.True(lastLeftLate < TimeSpan.FromMilliseconds(500), $"the load generator fell behind by {lastLeftLate}: the machine was too busy to offer the rush");
            Assert.DoesNotContain(limit.Arrivals, a => a.Status == 429);
            Assert.InRange(limit.MaxPerSecond(rushStart, rushEnd + Stopwatch.Frequency), 1, Budget + 2); // a turn can slip across a second's edge
            Assert.True(arrivals.Count(a => a.At < rushStart + 5 * Stopwatch.Frequency) >= 0.8 * Budget * 5,
                $"only {arrivals.Count} Stripe calls in the rush's five seconds: the budget was not used");
            Assert.True(p95 < TimeSpan.FromSeconds(2), $"p95 of the served requests was {p95}");
            Assert.True(turnedAway.Count >= 100, $"only {turnedAway.Count} of 200 were turned away: the rush did not exceed the budget");
            Assert.All(turnedAway, a =>
            {
                Assert.Equal((HttpStatusCode.ServiceUnavailable, PaymentProblems.StripeBusy.Type), (a.Status, a.ProblemType));
                Assert.InRange(int.Parse(a.RetryAfter!, CultureInfo.InvariantCulture), 1, 30);
            });
            Assert.All(await health, status => Assert.Equal(HttpStatusCode.OK, status)); // busy is not broken
            Assert.Equal(turnedAway.Count, measurements.Sum(m => m.Of("bffsessions.requests.rejected", ("reason", "stripe-busy")).Count));
            Assert.All(after, a => Assert.Equal(HttpStatusCode.OK, a.Status));
            Assert.All(after, a => Assert.True(a.Took < TimeSpan.FromMilliseconds(500), $"a request after the rush took {a.Took}"));
            if (instances > 1)
            {
                // Each instance got a fair part of the budget: first come, first booked, whichever instance asks.
                var byInstance = arrivals.GroupBy(a => a.Key).Select(g => g.Count()).ToList();
                Assert.Equal(instances, byInstance.Count);
                Assert.All(byInstance, n => Assert.True(n >= 0.3 * arrivals.Count, $"one instance sent only {n} of {arrivals.Count} calls"));
            }
            break;
        }
    }

    /// <summary>
    /// A rush on the budget: a budget of 5 calls a second, 12 users calling in a loop (each within the per-user limits),
    /// and 5 ordinary users asking now and then, two of them new (their first request creates the customer, two calls
    /// sharing one BudgetWait). First come, first served gave the ordinary users nothing; fair shares serve them.
    /// </summary>
    [SkippableTheory]
    [InlineData("Sqlite", 1)]
    [InlineData("Postgres", 2)]
    public async Task Ordinary_users_are_served_while_a_few_users_flood_the_budget(string provider, int instances)
    {
        var apis = await StartAsync(provider, instances, new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "5",
            ["Stripe:BudgetWait"] = "00:00:01",
            ["Stripe:Timeout"] = "00:00:05",
            // The service's defaults: a user's loop is held to 30 sessions a minute after a burst of 10.
            ["RateLimiting:PerUserBurst"] = "10",
            ["RateLimiting:PerUserPerMinute"] = "30",
        });
        var limit = StripeRateLimit.Enforce(Stripe, StripeLimit);
        var existing = await WarmClientsAsync(apis); // rush-user-0..7: customers made and cached
        var ordinary = existing.Take(3 * instances).Where((_, i) => i % instances == 0).Concat(
            Enumerable.Range(0, 2).Select(i => apis[i % apis.Count].CreateClientFor($"new-ordinary-{Guid.NewGuid():N}"))).ToList();
        var busy = Enumerable.Range(0, 12).Select(i => apis[i % apis.Count].CreateClientFor($"busy-{i}")).ToList();
        foreach (var client in busy)
        {
            (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose(); // their customers first
        }

        await Task.Delay(3000); // the warm-up's turns are past
        var rushStart = Stopwatch.GetTimestamp();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(12));
        var flood = busy.Select(async client =>
        {
            var answers = new List<HttpStatusCode>();
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
                answers.Add(response.StatusCode);
                await Task.Delay(10); // and again
            }

            return answers;
        }).ToList();
        var asked = ordinary.Select(async (client, i) =>
        {
            var answers = new List<HttpStatusCode>();
            await Task.Delay(1000 + (600 * i));
            while (!stop.IsCancellationRequested)
            {
                using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
                answers.Add(response.StatusCode);
                await Task.Delay(4000); // now and then: within a fair share of 5 calls a second among 17 users
            }

            return answers;
        }).ToList();
        var flooded = (await Task.WhenAll(flood)).SelectMany(a => a).ToList();
        var ordinaryAnswers = await Task.WhenAll(asked);
        var rushEnd = Stopwatch.GetTimestamp();

        var served = ordinaryAnswers.Sum(a => a.Count(s => s == HttpStatusCode.OK));
        var total = ordinaryAnswers.Sum(a => a.Count);
        output.WriteLine($"{provider}: ordinary users {served} of {total} served; loopers {flooded.Count(s => s == HttpStatusCode.OK)} of {flooded.Count}; " +
            $"Stripe max {limit.MaxPerSecond(rushStart, rushEnd)} calls in a second");
        Assert.True(flooded.Count(s => s == HttpStatusCode.OK) >= 20, "the loopers were served too, within their share");
        Assert.All(ordinaryAnswers, a => Assert.Contains(HttpStatusCode.OK, a));
        Assert.True(served >= 0.7 * total, $"ordinary users got {served} of {total} sessions");
        Assert.DoesNotContain(limit.Arrivals, a => a.Status == 429);
        Assert.InRange(limit.MaxPerSecond(rushStart, rushEnd), 1, 5 + 2);
    }

    [SkippableFact]
    public async Task When_Stripe_refuses_anyway_every_instance_slows_down()
    {
        // The budget is set above what Stripe allows (other services use the rest): Stripe's 429s must slow both instances.
        var apis = await StartAsync("Postgres", 2, new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = "10",
            ["Stripe:BudgetWait"] = "00:00:01",
            ["Stripe:Timeout"] = "00:00:05",
        });
        var clients = await WarmClientsAsync(apis);
        var limit = StripeRateLimit.Enforce(Stripe, 4);

        var rushStart = Stopwatch.GetTimestamp();
        var (answers, _) = await OpenLoopLoad.RunAsync(200, 20, AtRandom(clients), BffRequests.PricingTable);

        var calls = limit.Arrivals.Where(a => a.At >= rushStart).ToList();
        var refusedByStripe = calls.Count(a => a.Status == 429);
        output.WriteLine($"{calls.Count} calls, {refusedByStripe} refused by Stripe; by instance: " +
            string.Join(", ", calls.GroupBy(a => a.Key).Select(g => $"{g.Count()} ({g.Count(a => a.Status == 429)} refused)")));
        // Without slowing down the deployment would send its budget, 10 calls a second, against the 4 Stripe allows.
        // Slowed down, the pace saws between a quarter and a half of the budget. The bound is on the median second,
        // once the pace has had two seconds to fall: a second the machine stalled in moves a median no more than any
        // other, where a total (Stripe's refusals: 0.27-0.29 quietly, up to 0.35 busy) moves with every stall.
        var perSecond = calls.Where(a => a.At >= rushStart + (2 * Stopwatch.Frequency))
            .GroupBy(a => (a.At - rushStart) / Stopwatch.Frequency).Select(g => g.Count()).Order().ToList();
        var median = perSecond[perSecond.Count / 2];
        Assert.True(median <= 6, $"the median second carried {median} calls (seconds: {string.Join(", ", perSecond)}); Stripe refused {refusedByStripe} of {calls.Count}");
        Assert.True(refusedByStripe < 0.6 * calls.Count, $"Stripe refused {refusedByStripe} of {calls.Count} calls: as many as without slowing down");
        Assert.All(calls.GroupBy(a => a.Key), instance => Assert.Contains(instance, a => a.Status == 200));
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status));
        // Both slowed down through the shared row, not each on its own: neither fell back, and both read a cut pace.
        var schedules = apis.Select(api => api.Services.GetRequiredService<IStripeCallSchedule>()).ToList();
        Assert.All(schedules, schedule => Assert.False(schedule.IsFallingBack));
        Assert.All(schedules, schedule => Assert.True(schedule.Pace < 1, $"pace {schedule.Pace}"));
        Assert.DoesNotContain(Logs.Lines, l => l.Contains("Stripe call schedule", StringComparison.Ordinal));
    }

    /// <summary>
    /// The database goes away in the middle of a rush and comes back: calls booked there before still go out, each
    /// instance keeps to its share meanwhile, and back on the shared schedule neither overlaps its own turns.
    /// </summary>
    [SkippableFact]
    public async Task With_the_database_gone_mid_rush_and_back_no_second_carries_more_than_the_budget()
    {
        var apis = await StartAsync("Postgres", 2, new Dictionary<string, string?>
        {
            ["Stripe:RequestsPerSecond"] = Budget.ToString(CultureInfo.InvariantCulture),
            ["Stripe:BudgetWait"] = "00:00:01",
            ["Stripe:Timeout"] = "00:00:05",
        });
        var clients = await WarmClientsAsync(apis); // the customers are cached: sessions need no database
        await Task.Delay(1500); // heartbeats: each instance has counted two
        var limit = StripeRateLimit.Enforce(Stripe, StripeLimit);

        var rushStart = Stopwatch.GetTimestamp();
        var outage = Task.Run(async () =>
        {
            await Task.Delay(2000);
            await _database!.StopServerAsync();
            await Task.Delay(3000);
            await _database.StartServerAsync();
        });
        var (answers, _) = await OpenLoopLoad.RunAsync(360, 4 * Budget, AtRandom(clients), BffRequests.PricingTable);
        await outage;
        var rushEnd = Stopwatch.GetTimestamp();

        var maxPerSecond = limit.MaxPerSecond(rushStart, rushEnd + Stopwatch.Frequency);
        Report("outage", answers, limit.Arrivals.Where(a => a.At >= rushStart).ToList(), rushStart, limit, TimeSpan.Zero, TimeSpan.Zero);
        Assert.InRange(maxPerSecond, 1, Budget + 2);
        Assert.DoesNotContain(limit.Arrivals, a => a.Status == 429);
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status));
        Assert.Contains(Logs.Lines, l => l.Contains("keeps to 1/2 of Stripe:RequestsPerSecond", StringComparison.Ordinal));
        Assert.Contains(Logs.Lines, l => l.Contains("The shared Stripe call schedule answers again", StringComparison.Ordinal));
        Assert.True(answers.Count(a => a.Status == HttpStatusCode.OK) >= 0.6 * Budget * 9, "the budget went unused");
    }

    /// <summary>
    /// Which client sends request i: at random (seeded), as users arrive. Sent in strict turn, every fourth request would
    /// meet each freed turn of the budget first, and the same instance would win them all.
    /// </summary>
    private static Func<int, HttpClient> AtRandom(List<HttpClient> clients)
    {
        var random = new Random(20261126);
        var order = Enumerable.Range(0, 1000).Select(_ => random.Next(clients.Count)).ToArray();
        return i => clients[order[i]];
    }

    /// <summary>The instances, each with its own API key so the stand-in can tell their calls apart.</summary>
    private async Task<List<ApiFactory>> StartAsync(string provider, int count, Dictionary<string, string?> settings)
    {
        if (provider == "Postgres")
        {
            PostgresServer.Require();
            _database = await PostgresServer.StartAsync();
            settings["Database:Provider"] = "Postgres";
            settings["ConnectionStrings:Customers"] = _database.ConnectionString("bffsessions");
        }

        var apis = new List<ApiFactory>();
        for (var i = 0; i < count; i++)
        {
            var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>(settings) { ["Stripe:SecretKey"] = $"sk_test_instance{i}standin" });
            _ = api.Server; // started, and migrated, one after the other
            apis.Add(api);
        }

        _apis = apis;
        return apis;
    }

    private List<ApiFactory> _apis = [];

    /// <summary>One client per instance and user, each user's customer created (and cached) before the rush.</summary>
    private static async Task<List<HttpClient>> WarmClientsAsync(List<ApiFactory> apis)
    {
        var clients = new List<HttpClient>();
        for (var user = 0; user < Users; user++)
        {
            foreach (var api in apis)
            {
                var client = api.CreateClientFor($"rush-user-{user}");
                // Each user asks once per instance in a row: past the first, a small budget's fair share can say
                // "not yet" (503 with Retry-After), and the warm-up waits as a client should.
                var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
                for (var retry = 0; retry < 5 && response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait; retry++)
                {
                    response.Dispose();
                    await Task.Delay(wait);
                    response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
                }

                using (response)
                {
                    Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
                }

                clients.Add(client);
            }
        }

        await Task.Delay(1200); // the warm-up's turns are past
        return clients;
    }

    private void Report(string provider, IReadOnlyList<OpenLoopLoad.Answer> answers, List<StripeRateLimit.Arrival> arrivals, long rushStart,
        StripeRateLimit limit, TimeSpan p95, TimeSpan lastLeftLate)
    {
        output.WriteLine($"{provider}: {answers.Count} offered, {answers.Count(a => a.Status == HttpStatusCode.OK)} served, p95 {p95.TotalMilliseconds:0} ms; " +
            $"Stripe: {arrivals.Count} calls, max {limit.MaxPerSecond(rushStart, long.MaxValue)} in any second, {limit.Arrivals.Count(a => a.Status == 429)} refused; load generator late by {lastLeftLate.TotalMilliseconds:0} ms");
        foreach (var second in arrivals.GroupBy(a => (int)(Stopwatch.GetElapsedTime(rushStart, a.At).TotalSeconds)).OrderBy(g => g.Key))
        {
            output.WriteLine($"  second {second.Key}: {second.Count()} calls ({string.Join(" / ", second.GroupBy(a => a.Key).Select(g => g.Count()))})");
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var api in _apis)
        {
            await api.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
