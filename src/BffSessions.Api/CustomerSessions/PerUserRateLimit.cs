using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using BffSessions.Api.Identity;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.CustomerSessions;

/// <summary>The <c>RateLimiting</c> section: each user's token bucket.</summary>
public sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

    /// <summary>
    /// Each user's bucket in front of the session endpoint. Off only where something in front of the service (a gateway)
    /// limits each user already: without any, one user's script can spend the whole Stripe budget.
    /// </summary>
    public bool PerUserEnabled { get; set; } = true;

    /// <summary>Sessions one user may ask for in a burst (a token bucket's size).</summary>
    [Range(1, 100_000_000)]
    public int PerUserBurst { get; set; } = 10;

    /// <summary>Sessions one user may ask for per minute, sustained (the bucket's refill): a person reloading pages stays well under it.</summary>
    [Range(1, 100_000_000)]
    public int PerUserPerMinute { get; set; } = 30;
}

/// <summary>
/// One token bucket per signed-in user (or per client address before sign-in): one user's script cannot spend
/// everyone's Stripe budget (25 requests/s in a sandbox, 100/s live). Runs after authentication, so the user is known.
/// On SQLite the buckets are this instance's, in memory; on PostgreSQL every instance shares them
/// (<see cref="SharedUserBuckets"/>, registered on PostgreSQL only), so a user gets the limit once however many
/// instances serve them.
/// </summary>
public sealed class PerUserRateLimit(CurrentUserAccessor users, IOptions<RateLimitingOptions> options, SharedUserBuckets? shared = null)
    : IRateLimiterPolicy<string>
{
    public const string PolicyName = "per-user";

    private readonly TokenBucketRateLimiterOptions _bucket = new()
    {
        TokenLimit = options.Value.PerUserBurst,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromMinutes(1) / options.Value.PerUserPerMinute,
        QueueLimit = 0,
        // The partitioned limiter's own timer replenishes every partition's bucket (GetTokenBucketLimiter turns this
        // off for it too): no timer per user.
        AutoReplenishment = false,
    };

    /// <summary>Null: refusals are answered by the limiter's own 429 problem (Hosting).</summary>
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var key = users.TryGet(httpContext.User, out var user) ? "user:" + user.Key : "address:" + httpContext.Connection.RemoteIpAddress;
        return shared is null
            ? RateLimitPartition.GetTokenBucketLimiter(key, _ => _bucket)
            : RateLimitPartition.Get(key, partitionKey => new SharedUserLimiter(partitionKey, shared, _bucket));
    }
}
