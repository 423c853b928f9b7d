namespace BffSessions.Api.Payments.Budget;

/// <summary>The schedule of one instance (SQLite), and the own share of a PostgreSQL instance cut off from the database.</summary>
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

    public double Share => 1.0;

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

    /// <summary>No turn before <paramref name="wait"/> from now: turns booked elsewhere may fill that time.</summary>
    public void KeepFree(TimeSpan wait)
    {
        lock (_lock)
        {
            _nextTurn = Math.Max(_nextTurn, time.GetTimestamp() + (long)(wait.TotalSeconds * time.TimestampFrequency));
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
