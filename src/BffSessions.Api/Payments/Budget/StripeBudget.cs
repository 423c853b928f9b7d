using System.Diagnostics.Metrics;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The deployment's budget of Stripe calls (<see cref="StripeOptions.RequestsPerSecond"/>). Stripe's rate limit is the
/// account's, shared with its payments: so every call this service sends, on any instance, first books a turn in one
/// schedule that spaces the deployment's calls <c>1 / rate</c> seconds apart (the "virtual scheduling" form of the
/// generic cell rate algorithm). A call whose turn is within <see cref="StripeOptions.BudgetWait"/> waits for it; any
/// other is refused (503 stripe-busy, with a Retry-After for when the calls already booked are sent). When Stripe
/// answers a rate-limit 429 anyway, the schedule's pace is halved for every instance (see <see cref="StripePace"/>).
/// Unset, the budget lets every call through untouched.
/// </summary>
public sealed partial class StripeBudget
{
    /// <summary>How late after its turn a call may still go: later, it would crowd the next turns.</summary>
    private static readonly TimeSpan MaxLateness = TimeSpan.FromMilliseconds(100);

    /// <summary>The time the Stripe call in flight (in this async flow) has spent waiting for turns, for its measurement.</summary>
    private static readonly AsyncLocal<WaitTally?> CurrentTally = new();

    private readonly IOptions<StripeOptions> _options;
    private readonly IStripeCallSchedule _schedule;
    private readonly TimeProvider _time;
    private readonly ILogger<StripeBudget> _logger;
    private readonly Histogram<double> _waits;
    private readonly Counter<long> _rateLimited;

    public StripeBudget(IOptions<StripeOptions> options, IStripeCallSchedule schedule, TimeProvider time, IMeterFactory meters, ILogger<StripeBudget> logger)
    {
        _options = options;
        _schedule = schedule;
        _time = time;
        _logger = logger;
        var meter = meters.Create(Telemetry.Name);
        _waits = meter.CreateHistogram<double>("bffsessions.stripe.budget.wait", "s",
            "How long each Stripe call waited for its turn in the budget; outcome sent, refused (no turn within the wait) or over_share (the user's fair share used; never sent).", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _rateLimited = meter.CreateCounter<long>("bffsessions.stripe.rate_limited", "{response}",
            "Stripe's rate-limit 429s: each one slows the whole deployment down. More than a few means the budget is set too high.");
        if (options.Value.RequestsPerSecond is { } rate)
        {
            meter.CreateObservableGauge("bffsessions.stripe.budget.rate", () => rate * schedule.Pace * schedule.Share, "{call}/s",
                "The calls per second this instance may book now: the budget, slowed by Stripe's 429s, and only its own share while falling back.");
            meter.CreateObservableGauge("bffsessions.stripe.budget.fallback", () => schedule.IsFallingBack ? 1 : 0, "{instance}",
                "1 while this instance cannot use the shared schedule and keeps to its own share of the budget.");
        }
    }

    /// <summary>
    /// Starts counting the time the Stripe call about to be made (Stripe.net's retries included) spends waiting for
    /// turns: the gateway takes it out of the call's duration, which then measures Stripe, not our queue.
    /// </summary>
    public static WaitTally StartTally() => CurrentTally.Value = new WaitTally();

    /// <summary>
    /// Waits for this call's turn, or throws <see cref="StripeBudgetExhaustedException"/> when none is free in time. A
    /// call that wakes up well after its turn (the process stalled) books again, within what is left of its wait,
    /// rather than crowd the turns after it.
    /// </summary>
    public async ValueTask WaitForTurnAsync(CancellationToken cancellationToken)
    {
        if (_options.Value.RequestsPerSecond is not { } rate)
        {
            return;
        }

        var started = _time.GetTimestamp();
        // A request's calls share one Stripe:BudgetWait (StripeAllowance): a first request does not wait twice.
        var allowance = StripeAllowance.Active;
        var budgetWait = allowance?.BudgetWaitLeft ?? _options.Value.BudgetWait;
        try
        {
            var wait = budgetWait;
            while (true)
            {
                var turn = await _schedule.BookAsync(allowance?.User ?? FairShares.Background, allowance?.FirstBooking() ?? true, rate, wait, cancellationToken);
                if (!turn.Booked)
                {
                    _waits.Record(_time.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", turn.OverShare ? "over_share" : "refused"));
                    if (turn.OverShare)
                    {
                        LogOverShare(_logger, turn.Wait.TotalSeconds);
                    }
                    else
                    {
                        LogRefused(_logger, turn.Wait.TotalSeconds);
                    }

                    throw new StripeBudgetExhaustedException(turn.Wait);
                }

                if (turn.Wait > TimeSpan.Zero)
                {
                    var due = _time.GetTimestamp();
                    await Task.Delay(turn.Wait, _time, cancellationToken);
                    var late = _time.GetElapsedTime(due) - turn.Wait;
                    if (late > MaxLateness)
                    {
                        LogLate(_logger, late.TotalMilliseconds);
                        var left = budgetWait - _time.GetElapsedTime(started);
                        wait = left > TimeSpan.Zero ? left : TimeSpan.Zero; // a turn free at once, or none
                        continue;
                    }
                }

                _waits.Record(_time.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", "sent"));
                return;
            }
        }
        finally
        {
            var waited = _time.GetElapsedTime(started);
            CurrentTally.Value?.Add(waited);
            allowance?.Waited(waited);
        }
    }

    /// <summary>Stripe answered 429 for its rate limit (not for a locked object): the whole deployment slows down.</summary>
    public async ValueTask RateLimitedAsync(string reason, CancellationToken cancellationToken)
    {
        _rateLimited.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (_options.Value.RequestsPerSecond is not null)
        {
            await _schedule.SlowDownAsync(cancellationToken);
            LogSlowedDown(_logger, reason, _schedule.Pace);
        }
    }

    /// <summary>The time one Stripe call waited for turns, across its attempts.</summary>
    public sealed class WaitTally
    {
        private long _ticks;

        public TimeSpan Waited => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

        internal void Add(TimeSpan wait) => Interlocked.Add(ref _ticks, wait.Ticks);
    }

    // Debug: in a rush there is one per refused request, each already on its request's log line (503) and counted.
    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug,
        Message = "Refused a Stripe call: the budget (Stripe:RequestsPerSecond) has no turn within Stripe:BudgetWait; the calls booked are sent in {BookedSeconds:0.0} s")]
    private static partial void LogRefused(ILogger logger, double bookedSeconds);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Debug,
        Message = "Refused a Stripe call: the budget is contended and this user has had their fair share; the next is theirs in {ShareSeconds:0.0} s")]
    private static partial void LogOverShare(ILogger logger, double shareSeconds);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning,
        Message = "Stripe rate-limited a call ({Reason}): the deployment's pace is now {Pace:0.00} of Stripe:RequestsPerSecond")]
    private static partial void LogSlowedDown(ILogger logger, string reason, double pace);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Debug, Message = "A Stripe call woke {LateMs:0} ms after its turn: it books another")]
    private static partial void LogLate(ILogger logger, double lateMs);
}
