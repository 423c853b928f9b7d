using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>The <c>RateLimiting</c> section: each user's token bucket.</summary>
public sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

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
/// </summary>
public sealed class PerUserRateLimit(CurrentUserAccessor users, IOptions<RateLimitingOptions> options) : IRateLimiterPolicy<string>
{
    public const string PolicyName = "per-user";

    private readonly TokenBucketRateLimiterOptions _bucket = new()
    {
        TokenLimit = options.Value.PerUserBurst,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromMinutes(1) / options.Value.PerUserPerMinute,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>Null: refusals are answered by the limiter's own 429 problem (Hosting).</summary>
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var key = users.TryGet(httpContext.User, out var user) ? "user:" + user.Key : "address:" + httpContext.Connection.RemoteIpAddress;
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => _bucket);
    }
}
