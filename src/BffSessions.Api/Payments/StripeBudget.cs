using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Payments;

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
            "How long each Stripe call waited for its turn in the budget; outcome sent, or refused (never sent).", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _rateLimited = meter.CreateCounter<long>("bffsessions.stripe.rate_limited", "{response}",
            "Stripe's rate-limit 429s: each one slows the whole deployment down. More than a few means the budget is set too high.");
        if (options.Value.RequestsPerSecond is not null)
        {
            meter.CreateObservableGauge("bffsessions.stripe.budget.rate", () => options.Value.RequestsPerSecond!.Value * schedule.Pace, "{call}/s",
                "The calls per second the deployment may send Stripe now: the budget, slowed by Stripe's 429s.");
            meter.CreateObservableGauge("bffsessions.stripe.budget.fallback", () => schedule.IsFallingBack ? 1 : 0, "{instance}",
                "1 while this instance cannot reach the shared schedule and keeps to its own share of the budget.");
        }
    }

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
        var wait = _options.Value.BudgetWait;
        while (true)
        {
            var turn = await _schedule.BookAsync(rate, wait, cancellationToken);
            if (!turn.Booked)
            {
                _waits.Record(_time.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", "refused"));
                LogRefused(_logger, turn.Wait.TotalSeconds);
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
                    var left = _options.Value.BudgetWait - _time.GetElapsedTime(started);
                    wait = left > TimeSpan.Zero ? left : TimeSpan.Zero; // a turn free at once, or none
                    continue;
                }
            }

            _waits.Record(_time.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", "sent"));
            return;
        }
    }

    /// <summary>How late after its turn a call may still go: later, it would crowd the next turns.</summary>
    private static readonly TimeSpan MaxLateness = TimeSpan.FromMilliseconds(100);

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

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning,
        Message = "Refused a Stripe call: the budget (Stripe:RequestsPerSecond) has no turn within Stripe:BudgetWait; the calls booked are sent in {BookedSeconds:0.0} s")]
    private static partial void LogRefused(ILogger logger, double bookedSeconds);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Debug, Message = "A Stripe call woke {LateMs:0} ms after its turn: it books another")]
    private static partial void LogLate(ILogger logger, double lateMs);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning,
        Message = "Stripe rate-limited a call ({Reason}): the deployment's pace is now {Pace:0.00} of Stripe:RequestsPerSecond")]
    private static partial void LogSlowedDown(ILogger logger, string reason, double pace);
}

/// <summary>
/// Below Stripe.net, on its HttpClient: every attempt (Stripe.net's retries included) waits for a turn in the budget,
/// and every rate-limit 429 Stripe answers slows the deployment down.
/// </summary>
public sealed class StripeBudgetHandler(StripeBudget budget) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await budget.WaitForTurnAsync(cancellationToken);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.TooManyRequests && await RateLimitReasonAsync(response, cancellationToken) is { } reason)
        {
            await budget.RateLimitedAsync(reason, cancellationToken);
        }

        return response;
    }

    /// <summary>
    /// Stripe's limiters name themselves in <c>Stripe-Rate-Limited-Reason</c> (global-rate, endpoint-rate, …). A 429
    /// for an object locked by another request (code <c>lock_timeout</c>) is no rate signal: null.
    /// </summary>
    private static async Task<string?> RateLimitReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Headers.TryGetValues("Stripe-Rate-Limited-Reason", out var reasons))
        {
            // A closed set, as a metric tag must be.
            var reason = reasons.FirstOrDefault();
            return reason is "global-rate" or "endpoint-rate" or "global-concurrency" or "endpoint-concurrency" or "resource-specific" ? reason : "other";
        }

        // Buffered: Stripe.net reads the same body again for its error.
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        try
        {
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return error.RootElement.TryGetProperty("error", out var e) && e.TryGetProperty("code", out var code) && code.GetString() == "lock_timeout"
                ? null
                : "rate_limit";
        }
        catch (JsonException)
        {
            return "rate_limit";
        }
    }
}

/// <summary>One booking: the turn is <see cref="Wait"/> from now, or (not booked) the schedule is full that far ahead.</summary>
public readonly record struct CallBooking(bool Booked, TimeSpan Wait);

/// <summary>
/// The schedule of the deployment's Stripe calls: in this process for one instance (<see cref="InMemoryCallSchedule"/>),
/// in PostgreSQL for several (Data's <c>PostgresCallSchedule</c>).
/// </summary>
public interface IStripeCallSchedule
{
    /// <summary>
    /// Books the next turn, spacing turns <c>1 / (callsPerSecond × pace)</c> apart, unless that turn is more than
    /// <paramref name="maxWait"/> away (then nothing is booked).
    /// </summary>
    ValueTask<CallBooking> BookAsync(int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>Halves the pace (at most once a second), after Stripe rate-limited a call.</summary>
    ValueTask SlowDownAsync(CancellationToken cancellationToken);

    /// <summary>The share of the budget in use, as last seen: 1, or less for a while after Stripe's 429s.</summary>
    double Pace { get; }

    /// <summary>True while the shared schedule cannot be reached and this instance keeps to its own share.</summary>
    bool IsFallingBack { get; }
}

/// <summary>
/// How the pace follows Stripe's 429s (additive increase, multiplicative decrease): each 429 halves it, at most once a
/// second and never below a tenth; a second after the last cut it grows back by a tenth of the budget per second.
/// <c>PostgresCallSchedule</c>'s SQL computes the same.
/// </summary>
public static class StripePace
{
    public const double Floor = 0.1;

    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(1);

    /// <summary>The pace <paramref name="sinceCut"/> after it was cut to <paramref name="cut"/>.</summary>
    public static double At(double cut, TimeSpan sinceCut) => Math.Min(1.0, cut + 0.1 * Math.Max(0, (sinceCut - Hold).TotalSeconds));

    public static double Halved(double current) => Math.Max(Floor, current / 2);
}

/// <summary>The schedule of one instance (SQLite, or a PostgreSQL instance cut off from the database).</summary>
public sealed class InMemoryCallSchedule(TimeProvider time) : IStripeCallSchedule
{
    private readonly Lock _lock = new();
    private long _nextTurn = long.MinValue;
    private double _cutTo = 1.0;
    private long _cutAt = long.MinValue;

    public double Pace
    {
        get
        {
            lock (_lock)
            {
                return PaceAt(time.GetTimestamp());
            }
        }
    }

    public bool IsFallingBack => false;

    public ValueTask<CallBooking> BookAsync(int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Book(callsPerSecond, maxWait));

    public CallBooking Book(double callsPerSecond, TimeSpan maxWait)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var turn = Math.Max(_nextTurn, now);
            var wait = time.GetElapsedTime(now, turn);
            if (wait > maxWait)
            {
                return new CallBooking(false, wait);
            }

            _nextTurn = turn + (long)(time.TimestampFrequency / (callsPerSecond * PaceAt(now)));
            return new CallBooking(true, wait);
        }
    }

    public ValueTask SlowDownAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_cutAt == long.MinValue || time.GetElapsedTime(_cutAt, now) >= StripePace.Hold)
            {
                _cutTo = StripePace.Halved(PaceAt(now));
                _cutAt = now;
            }
        }

        return ValueTask.CompletedTask;
    }

    private double PaceAt(long now) => _cutAt == long.MinValue ? 1.0 : StripePace.At(_cutTo, time.GetElapsedTime(_cutAt, now));
}
