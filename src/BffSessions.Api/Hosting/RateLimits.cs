using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Hosting;

/// <summary>The <c>RateLimiting</c> section.</summary>
public sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

    /// <summary>Sessions one user may ask for in a burst (a token bucket's size).</summary>
    [Range(1, 100_000_000)]
    public int PerUserBurst { get; set; } = 10;

    /// <summary>Sessions one user may ask for per minute, sustained (the bucket's refill): a person reloading pages stays well under it.</summary>
    [Range(1, 100_000_000)]
    public int PerUserPerMinute { get; set; } = 30;

    /// <summary>Stripe calls in flight at once, per instance; beyond it requests get 503 + Retry-After instead of queueing.</summary>
    [Range(1, 100_000)]
    public int StripeConcurrency { get; set; } = 256;
}

public static class RateLimits
{
    public const string PerUserPolicy = "per-user";

    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = RejectAsync;
            // One bucket per signed-in user (or per client address before sign-in): one user's script cannot
            // spend everyone's Stripe budget (25 requests/s in test mode, 100/s live).
            limiter.AddPolicy(PerUserPolicy, http =>
            {
                var user = http.RequestServices.GetRequiredService<Identity.CurrentUserAccessor>().UserIdOf(http.User);
                var key = user is null ? "address:" + http.Connection.RemoteIpAddress : "user:" + user;
                return RateLimitPartition.GetTokenBucketLimiter(key, _ =>
                {
                    var limits = http.RequestServices.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
                    var refillEvery = TimeSpan.FromMinutes(1) / limits.PerUserPerMinute;
                    return new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limits.PerUserBurst,
                        TokensPerPeriod = 1,
                        ReplenishmentPeriod = refillEvery,
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    };
                });
            });
        });
        return builder;
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 2;
        http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RateLimits))
            .LogWarning("Rate limit reached on {Path}; retry after {RetryAfter} s", http.Request.Path, retryAfter);
        await Problems.WriteAsync(http, StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, "Too many requests",
            "Too many customer sessions were asked for in a short time. Retry after the time in the Retry-After header.");
    }
}
