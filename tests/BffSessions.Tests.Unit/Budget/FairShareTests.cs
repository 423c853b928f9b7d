using BffSessions.Api.Payments;
using BffSessions.Api.Payments.Budget;
using BffSessions.Tests.Infrastructure;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests.Budget;

/// <summary>
/// The budget's fairness and its one wait per request, on a fake clock: what the schedule decides, not how fast a
/// machine gets there.
/// </summary>
public sealed class FairShareTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    /// <summary>
    /// A rush on the budget: a budget of 5 calls a second, 12 users calling in a loop (each asks again 10 ms after an
    /// answer), 5 users asking once every 5 s, within their fair share (5 calls a second among 17 users is one every
    /// 3.4 s each). First come, first served gave the ordinary users nothing.
    /// </summary>
    [Fact]
    public void Ordinary_users_keep_being_served_while_a_few_users_flood_the_budget()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var busy = Enumerable.Range(0, 12).Select(i => new Caller($"busy-{i}", TimeSpan.FromMilliseconds(10))).ToList();
        var ordinary = Enumerable.Range(0, 5).Select(i => new Caller($"ordinary-{i}", TimeSpan.FromSeconds(5), startAt: TimeSpan.FromMilliseconds(997 * i))).ToList();
        var callers = busy.Concat(ordinary).ToList();
        var arrivals = new Random(20261206); // who asks first within a tick is chance, as on a real network

        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromSeconds(60); elapsed += TimeSpan.FromMilliseconds(5))
        {
            foreach (var caller in callers.Where(c => c.ReadyAt <= elapsed).OrderBy(_ => arrivals.Next()))
            {
                var booking = schedule.Book(caller.User, 5, TimeSpan.FromSeconds(1));
                caller.Answered(booking, elapsed);
            }

            _time.Advance(TimeSpan.FromMilliseconds(5));
        }

        var sent = callers.Sum(c => c.Booked);
        Assert.InRange(sent, 5 * 60 - 5, 5 * 60 + 5); // the budget is spent, and never more
        Assert.All(ordinary, c => Assert.True(c.Booked >= 0.9 * c.Asked, $"{c.User} got {c.Booked} of {c.Asked}: {string.Join(' ', c.Refusals)}"));
        // The loopers share what is left first come, first served: none starves.
        Assert.True(busy.Min(c => c.Booked) >= 0.5 * busy.Average(c => c.Booked), string.Join(", ", busy.Select(c => c.Booked)));
    }

    /// <summary>
    /// <see cref="FairShareRush"/>: 150 users at three times the budget, and one client that asks again when its 503's
    /// Retry-After says. Each Retry-After must be a time when its retry is within its share. It was the share time before
    /// the refusal moved it on: 1 of 12 served, its Retry-After alternating 2 s and 13-17 s. PostgreSQL's schedule runs
    /// the same rush (PostgresFairShareTests).
    /// </summary>
    [Fact]
    public async Task A_client_that_obeys_Retry_After_is_served_within_a_few_retries_under_three_times_the_budget()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var clock = TimeSpan.Zero;

        var (served, longestRun, why) = await FairShareRush.ObedientClientAsync((user, elapsed) =>
        {
            _time.Advance(elapsed - clock);
            clock = elapsed;
            return ValueTask.FromResult(schedule.Book(user, 5, TimeSpan.FromSeconds(1)));
        });

        // 300 s of asking: a share comes every 15 s or so (about 75 users active, 5 calls a second), then 10 s of pause.
        Assert.True(served >= 10, why);
        Assert.True(longestRun <= 2, why);
    }

    /// <summary>
    /// A 503 says at most a minute (StripeProblemHandler): so no share is longer, however many users are active (here 101
    /// at one call a second, a share of 101 s). Told a minute, a client asking again then must be within its share.
    /// </summary>
    [Fact]
    public void No_share_is_longer_than_the_longest_Retry_After()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var crowd = Enumerable.Range(0, 100).Select(i => $"crowd-{i}").ToList();
        crowd.ForEach(user => schedule.Book(user, 1, TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(schedule.Book("patient", 1, TimeSpan.FromSeconds(1)).Booked); // 101 users active

        _time.Advance(TimeSpan.FromSeconds(2.5));
        crowd.ForEach(user => schedule.Book(user, 1, TimeSpan.FromSeconds(1))); // the schedule full again
        var refused = schedule.Book("patient", 1, TimeSpan.FromSeconds(1));
        _time.Advance(refused.Wait);
        crowd.ForEach(user => schedule.Book(user, 1, TimeSpan.FromSeconds(1)));
        var retried = schedule.Book("patient", 1, TimeSpan.FromSeconds(1));

        Assert.True(refused is { Booked: false, OverShare: true }, refused.ToString());
        Assert.Equal(FairShares.MaxShareInterval, refused.Wait); // asking before its share moved it a minute on, not 101 s
        Assert.False(retried.OverShare, retried.ToString());
    }

    /// <summary>
    /// A user's share time outlasts the active window: forgotten after 5 s of quiet, a user asking every 6 s would be due
    /// at every ask, whatever their share (as PostgreSQL's table, which keeps it, has it too).
    /// </summary>
    [Fact]
    public void A_user_quiet_for_longer_than_the_active_window_keeps_their_share_time()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var others = Enumerable.Range(0, 9).Select(i => $"other-{i}").ToList();
        others.ForEach(user => schedule.Book(user, 1, TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(schedule.Book("quiet", 1, TimeSpan.FromSeconds(1)).Booked); // 10 users active: the next share 10 s on

        _time.Advance(TimeSpan.FromSeconds(6));
        others.ForEach(user => schedule.Book(user, 1, TimeSpan.FromSeconds(1))); // contended again
        var asked = schedule.Book("quiet", 1, TimeSpan.FromSeconds(1));

        Assert.True(asked is { Booked: false, OverShare: true }, asked.ToString());
    }

    [Fact]
    public void One_user_alone_may_use_the_whole_budget()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var started = _time.GetTimestamp();
        var booked = 0;
        while (_time.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
        {
            if (schedule.Book("alone", 10, TimeSpan.FromSeconds(1)) is { Booked: true })
            {
                booked++;
            }

            _time.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.InRange(booked, 300 - 1, 300 + 11); // 10 a second, and the one second booked ahead
    }

    [Fact]
    public async Task A_first_requests_customer_and_session_calls_share_one_BudgetWait()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var options = Options.Create(new StripeOptions { RequestsPerSecond = 1, BudgetWait = TimeSpan.FromSeconds(1.5), Timeout = TimeSpan.FromSeconds(10) });
        var budget = new StripeBudget(options, schedule, _time, new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>(), NullLogger<StripeBudget>.Instance);
        schedule.Book("first-request", 1, TimeSpan.Zero); // the schedule is booked for the next second (by the same user: no share in the way)

        using (StripeAllowance.Begin("first-request", options.Value, _time))
        {
            // The customer call waits a whole second for its turn: half a second of the request's wait is left.
            var customer = budget.WaitForTurnAsync(CancellationToken.None).AsTask();
            _time.Advance(TimeSpan.FromSeconds(1));
            await customer;

            // The session call's turn is a second away: beyond what is left, so it is refused, not waited for.
            var session = await Assert.ThrowsAsync<StripeBudgetExhaustedException>(() => budget.WaitForTurnAsync(CancellationToken.None).AsTask());
            Assert.Equal(TimeSpan.FromSeconds(1), session.RetryAfter);
        }

        // A request of its own gets a whole BudgetWait again.
        using (StripeAllowance.Begin("next-request", options.Value, _time))
        {
            var next = budget.WaitForTurnAsync(CancellationToken.None).AsTask();
            _time.Advance(TimeSpan.FromSeconds(1));
            await next;
        }
    }

    /// <summary>A user calling in a loop: asks, waits for the turn (or, refused, a moment), asks again.</summary>
    private sealed class Caller(string user, TimeSpan pause, TimeSpan startAt = default)
    {
        public string User { get; } = user;

        public TimeSpan ReadyAt { get; private set; } = startAt;

        public int Asked { get; private set; }

        public int Booked { get; private set; }

        public List<string> Refusals { get; } = [];

        public void Answered(CallBooking booking, TimeSpan now)
        {
            Asked++;
            if (!booking.Booked)
            {
                Refusals.Add($"{now.TotalSeconds:0.00}:{(booking.OverShare ? "share" : "full")}:{booking.Wait.TotalSeconds:0.00}");
            }

            if (booking.Booked)
            {
                Booked++;
                ReadyAt = now + booking.Wait + pause;
            }
            else
            {
                ReadyAt = now + pause;
            }
        }
    }
}
