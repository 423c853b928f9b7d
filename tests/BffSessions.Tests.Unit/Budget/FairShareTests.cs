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
        var budget = NewBudget(options.Value, schedule);
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

    /// <summary>
    /// A new user's first request makes two calls (their customer, then their session) within one BudgetWait. Under a
    /// flood the near half of the wait is taken, so the customer's turn is in the far half; booked only once the
    /// customer is made, the session's turn was as far again, beyond what was left of the wait: every new user's first
    /// request was refused (bench/run's fair-share rush served 6 of 8 new users' asks, each user's first refused). The
    /// customer's booking now books the session's turn with it.
    /// </summary>
    [Fact]
    public async Task A_new_users_first_request_is_served_while_a_few_users_flood_the_budget()
    {
        var outcome = await Task.Run(() => NewUsersFirstRequestUnderAFloodAsync(customerSaysASessionFollows: true));
        Assert.Equal("customer and session sent", outcome);

        // What the test stands on: without the booking ahead, the same flood refuses the session call.
        var control = await Task.Run(() => NewUsersFirstRequestUnderAFloodAsync(customerSaysASessionFollows: false));
        Assert.StartsWith("session refused", control, StringComparison.Ordinal);
    }

    /// <summary>The next call waits for the turn booked for it, and goes on it.</summary>
    [Fact]
    public async Task The_next_call_goes_on_the_turn_booked_for_it_and_not_before()
    {
        var (schedule, budget, options) = BudgetOfFive();
        using (StripeAllowance.Begin("new-user", options, _time))
        {
            await FirstCallThenSomeoneElseAsync(schedule, budget);

            var next = budget.WaitForTurnAsync(CancellationToken.None).AsTask();
            _time.Advance(TimeSpan.FromMilliseconds(90));
            Assert.False(next.IsCompleted, "the next call went 10 ms before its turn");
            _time.Advance(TimeSpan.FromMilliseconds(10));
            await next;
        }

        // It booked nothing of its own: the next free turn is still the one after someone else's, at 600 ms.
        Assert.Equal(TimeSpan.FromMilliseconds(400), schedule.Book("a-third", 5, TimeSpan.FromSeconds(1)).Wait);
    }

    /// <summary>A booked turn the call comes too late for has gone by unused: the call books its own, as any other would.</summary>
    [Fact]
    public async Task A_call_that_misses_the_turn_booked_for_it_books_its_own()
    {
        var (schedule, budget, options) = BudgetOfFive();
        using (StripeAllowance.Begin("new-user", options, _time))
        {
            await FirstCallThenSomeoneElseAsync(schedule, budget);

            _time.Advance(TimeSpan.FromMilliseconds(400)); // Stripe was slow: the turn at 200 ms went by 300 ms ago
            var next = budget.WaitForTurnAsync(CancellationToken.None).AsTask(); // books the turn at 600 ms
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await next;
        }

        // Turns at 0, 200 (missed), 400 (someone else's) and 600 ms (its own): the next free one is at 800 ms. Had the late
        // call gone on the missed turn, it would be at 600 ms, free at once.
        Assert.Equal(TimeSpan.FromMilliseconds(200), schedule.Book("a-third", 5, TimeSpan.FromSeconds(1)).Wait);
    }

    /// <summary>
    /// A call on a turn booked for it that says another call follows (the customer's call again, after a key Stripe
    /// spent) books that one's turn too.
    /// </summary>
    [Fact]
    public async Task A_call_on_a_booked_turn_books_the_next_calls_turn_when_told_another_follows()
    {
        var (schedule, budget, options) = BudgetOfFive();
        using (StripeAllowance.Begin("new-user", options, _time))
        {
            StripeAllowance.Active!.BookNextCallWithThisOne();
            await budget.WaitForTurnAsync(CancellationToken.None); // at 0, and 200 ms booked

            _time.Advance(TimeSpan.FromMilliseconds(200));
            StripeAllowance.Active!.BookNextCallWithThisOne();
            await budget.WaitForTurnAsync(CancellationToken.None); // on 200 ms, and 400 ms booked

            _time.Advance(TimeSpan.FromMilliseconds(50));
            Assert.Equal(TimeSpan.FromMilliseconds(350), schedule.Book("someone-else", 5, TimeSpan.FromSeconds(1)).Wait); // 600 ms: 400 is held

            var last = budget.WaitForTurnAsync(CancellationToken.None).AsTask();
            _time.Advance(TimeSpan.FromMilliseconds(150));
            await last; // on 400 ms
        }
    }

    /// <summary>
    /// At 0, the request's first call, saying another follows: it goes at once, and the next call's turn is booked at
    /// 200 ms. At 100 ms someone else asks, and gets the turn after that one, at 400 ms.
    /// </summary>
    private async Task FirstCallThenSomeoneElseAsync(InMemoryCallSchedule schedule, StripeBudget budget)
    {
        StripeAllowance.Active!.BookNextCallWithThisOne();
        await budget.WaitForTurnAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TimeSpan.FromMilliseconds(300), schedule.Book("someone-else", 5, TimeSpan.FromSeconds(1)).Wait);
    }

    private (InMemoryCallSchedule Schedule, StripeBudget Budget, StripeOptions Options) BudgetOfFive()
    {
        var schedule = new InMemoryCallSchedule(_time);
        var options = new StripeOptions { RequestsPerSecond = 5, BudgetWait = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromSeconds(10) };
        return (schedule, NewBudget(options, schedule), options);
    }

    private StripeBudget NewBudget(StripeOptions options, InMemoryCallSchedule schedule) =>
        new(Options.Create(options), schedule, _time, new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>(),
            NullLogger<StripeBudget>.Instance);

    /// <summary>
    /// 12 users calling in a loop against a budget of 5 a second (as in the test above), and a new user's first request
    /// 3 s in, through the budget: the customer's call, 20 ms of Stripe, then the session's call.
    /// </summary>
    private async Task<string> NewUsersFirstRequestUnderAFloodAsync(bool customerSaysASessionFollows)
    {
        var (schedule, budget, options) = BudgetOfFive();
        var busy = Enumerable.Range(0, 12).Select(i => new Caller($"busy-{i}", TimeSpan.FromMilliseconds(10))).ToList();
        var arrivals = new Random(20261207);
        Task<string>? request = null;

        // No synchronization context (Task.Run): the fake clock's timers run the request's continuations as it advances.
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromSeconds(6); elapsed += TimeSpan.FromMilliseconds(5))
        {
            foreach (var caller in busy.Where(c => c.ReadyAt <= elapsed).OrderBy(_ => arrivals.Next()))
            {
                caller.Answered(schedule.Book(caller.User, 5, TimeSpan.FromSeconds(1)), elapsed);
            }

            if (elapsed == TimeSpan.FromSeconds(3))
            {
                request = FirstRequestAsync();
            }

            _time.Advance(TimeSpan.FromMilliseconds(5));
        }

        Assert.True(request!.IsCompleted, "the request still waits, 3 s after it began");
        Assert.All(busy, c => Assert.True(c.Refusals.Count > 0, $"{c.User} was never refused: no flood"));
        return await request;

        async Task<string> FirstRequestAsync()
        {
            using var allowance = StripeAllowance.Begin("new-user", options, _time);
            var began = _time.GetTimestamp();
            if (customerSaysASessionFollows)
            {
                StripeAllowance.Active!.BookNextCallWithThisOne();
            }

            await budget.WaitForTurnAsync(CancellationToken.None); // the customer's call
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time); // Stripe makes the customer
            try
            {
                await budget.WaitForTurnAsync(CancellationToken.None); // the session's call
            }
            catch (StripeBudgetExhaustedException refused)
            {
                return $"session refused: retry after {refused.RetryAfter.TotalSeconds:0.0} s";
            }

            var waited = _time.GetElapsedTime(began) - TimeSpan.FromMilliseconds(20);
            Assert.True(waited <= options.BudgetWait, $"the request waited {waited.TotalMilliseconds} ms for its turns");
            return "customer and session sent";
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
