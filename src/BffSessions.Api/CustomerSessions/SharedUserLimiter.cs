using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// One user's limiter on PostgreSQL: its bucket is the shared row (<see cref="SharedUserBuckets"/>), asked once per
/// request. The database is not asked synchronously, so <see cref="RateLimiter.AttemptAcquire"/> answers "not yet" and
/// ASP.NET Core's rate limiting middleware goes on to <see cref="RateLimiter.AcquireAsync"/>, where the one call is made;
/// a refusal carries Retry-After as a token bucket's would, so the 429 is Hosting's as before.
/// <para>
/// Beside it, the user's in-memory bucket on this instance takes a token for every request the shared one grants,
/// and answers alone when the database does not: an outage falls back to today's per-instance limit, counted from what
/// this instance has served, not from a fresh burst.
/// </para>
/// </summary>
internal sealed class SharedUserLimiter : ReplenishingRateLimiter
{
    private readonly SharedUserBuckets _shared;
    private readonly TokenBucketRateLimiter _local;
    private readonly string _keyHash;
    private int _inFlight;
    private long _lastUsed;

    /// <param name="partitionKey">The policy's partition key; only its SHA-256 leaves the process.</param>
    /// <param name="shared">The shared buckets.</param>
    /// <param name="local">This instance's bucket for the user, replenished by the partitioned limiter's timer.</param>
    public SharedUserLimiter(string partitionKey, SharedUserBuckets shared, TokenBucketRateLimiterOptions local)
    {
        _shared = shared;
        _local = new TokenBucketRateLimiter(local);
        _keyHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(partitionKey)));
        _lastUsed = shared.Time.GetTimestamp();
    }

    /// <summary>
    /// Idle only while no request is at the database and the local bucket is full: the partitioned limiter then
    /// drops this limiter (a new one starts full, as the shared row does once refilled).
    /// </summary>
    public override TimeSpan? IdleDuration =>
        Volatile.Read(ref _inFlight) > 0 || _local.IdleDuration is not { } localIdle ? null
            : TimeSpan.FromTicks(Math.Min(localIdle.Ticks, _shared.Time.GetElapsedTime(Interlocked.Read(ref _lastUsed)).Ticks));

    public override bool IsAutoReplenishing => false;

    public override TimeSpan ReplenishmentPeriod => _local.ReplenishmentPeriod;

    public override bool TryReplenish() => _local.TryReplenish();

    /// <summary>The local bucket's figures: the shared one's live in the database.</summary>
    public override RateLimiterStatistics? GetStatistics() => _local.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        Interlocked.Exchange(ref _lastUsed, _shared.Time.GetTimestamp());
        return permitCount == 0 ? _local.AttemptAcquire(0) : SharedLease.NotAskedYet;
    }

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        // The middleware asks for one permit per request; the shared bucket hands out one at a time.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, 1);
        if (permitCount == 0)
        {
            return _local.AttemptAcquire(0);
        }

        Interlocked.Increment(ref _inFlight);
        try
        {
            switch (await _shared.TryTakeAsync(_keyHash, cancellationToken))
            {
                case { Granted: true }:
                    _local.AttemptAcquire(1).Dispose(); // kept in step; an empty local bucket does not refuse here
                    return SharedLease.Granted;
                case { } refused:
                    return new SharedLease(false, refused.RetryAfter);
                default:
                    return _local.AttemptAcquire(1);
            }
        }
        finally
        {
            Interlocked.Exchange(ref _lastUsed, _shared.Time.GetTimestamp());
            Interlocked.Decrement(ref _inFlight);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _local.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        await _local.DisposeAsync();
        await base.DisposeAsyncCore();
    }

    /// <summary>A token bucket's lease: nothing to give back; a refusal says when to retry.</summary>
    private sealed class SharedLease(bool isAcquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly SharedLease Granted = new(true, null);

        /// <summary>Not refused: the answer needs the database, which AcquireAsync asks.</summary>
        public static readonly SharedLease NotAskedYet = new(false, null);

        public override bool IsAcquired => isAcquired;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = wait;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
