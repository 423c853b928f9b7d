namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The schedule of one instance (SQLite), and the own share of a PostgreSQL instance cut off from the database: turns
/// spaced <c>1 / rate</c> apart, shared fairly between users (<see cref="FairShares"/>).
/// </summary>
public sealed class InMemoryCallSchedule(TimeProvider time) : IStripeCallSchedule
{
    private readonly Lock _lock = new();
    private readonly ActiveUsers _users = new(time);
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

    public ValueTask<CallBooking> BookAsync(string user, bool firstOfRequest, int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Book(user, callsPerSecond, maxWait, firstOfRequest));

    /// <summary>
    /// A booking by <see cref="FairShares.Background"/>, the user of calls made outside a request. The schedule's own
    /// tests book with it alone, so they meet no share.
    /// </summary>
    public CallBooking Book(double callsPerSecond, TimeSpan maxWait) => Book(FairShares.Background, callsPerSecond, maxWait);

    public CallBooking Book(string user, double callsPerSecond, TimeSpan maxWait, bool firstOfRequest = true)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var active = _users.Touch(user, now, out var asking);
            var turn = Math.Max(_nextTurn, now);
            var wait = time.GetElapsedTime(now, turn);
            var interval = (long)(time.TimestampFrequency / (callsPerSecond * PaceAt(now)));
            var overShare = firstOfRequest && FairShares.IsOverShare(active, wait, maxWait, shareLater: asking.Next > now);
            var share = Math.Min(interval * active, (long)(FairShares.MaxShareInterval.TotalSeconds * time.TimestampFrequency));
            if (overShare)
            {
                // Asking before one's share time counts as a share: a user asking more often than that is never due one.
                // The Retry-After is the share time after this move, so a client that waits for it is due when it asks.
                asking.Next = Math.Max(asking.Next, now + share);
                return new CallBooking(false, time.GetElapsedTime(now, asking.Next), OverShare: true);
            }

            if (wait > maxWait)
            {
                // Within its share, with no turn free: it moves no share, and asks again when the booked calls have gone.
                return new CallBooking(false, wait);
            }

            _nextTurn = turn + interval;
            if (firstOfRequest)
            {
                asking.Next = turn + share;
            }

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
