namespace BffSessions.StandIn;

/// <summary>
/// Stripe's rate limits as sliding one-second windows: one for the whole account, one per endpoint, one for search. A
/// call is accepted only when every window it belongs to has room, and refused calls take no room.
/// </summary>
internal sealed class RateLimiter(StandInOptions options)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Queue<DateTimeOffset>> _accepted = new(StringComparer.Ordinal);
    private readonly Queue<DateTimeOffset> _arrived = new();
    private readonly Lock _lock = new();
    private long _refused;
    private int _maxArrivedPerSecond;

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>The most calls that arrived (accepted or not) within any one second.</summary>
    public int MaxArrivedPerSecond => Volatile.Read(ref _maxArrivedPerSecond);

    /// <summary>Null when the call may go; else the limiter that refused it, as Stripe names it in Stripe-Rate-Limited-Reason.</summary>
    public string? Refuse(string account, bool live, string endpoint, bool search)
    {
        var limits = options.RateLimits;
        var now = options.Time.GetUtcNow();
        lock (_lock)
        {
            Forget(_arrived, now);
            _arrived.Enqueue(now);
            _maxArrivedPerSecond = Math.Max(_maxArrivedPerSecond, _arrived.Count);

            var global = Bucket("global\n" + account, now);
            var perEndpoint = Bucket("endpoint\n" + account + "\n" + endpoint, now);
            string? reason = null;
            if (global.Count >= (live ? limits.LivePerSecond : limits.SandboxPerSecond))
            {
                reason = "global-rate";
            }
            else if (perEndpoint.Count >= (search ? limits.SearchPerSecond : limits.PerEndpointPerSecond))
            {
                reason = "endpoint-rate";
            }

            if (reason is not null)
            {
                _refused++;
                return reason;
            }

            global.Enqueue(now);
            perEndpoint.Enqueue(now);
            return null;
        }
    }

    private Queue<DateTimeOffset> Bucket(string name, DateTimeOffset now)
    {
        if (!_accepted.TryGetValue(name, out var bucket))
        {
            _accepted[name] = bucket = new Queue<DateTimeOffset>();
        }

        Forget(bucket, now);
        return bucket;
    }

    private static void Forget(Queue<DateTimeOffset> times, DateTimeOffset now)
    {
        while (times.TryPeek(out var oldest) && now - oldest >= Window)
        {
            times.Dequeue();
        }
    }
}
