using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace BffSessions.Hosting;

/// <summary>
/// ASP.NET Core's rate limiter, answering refusals with a 429 problem and Retry-After. Features add their
/// policies (<c>AddRateLimiter(o =&gt; o.AddPolicy&lt;string, TPolicy&gt;(name))</c>); the per-user one is Identity's.
/// </summary>
public static partial class RateLimits
{

    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IProblemDetailsService, ILoggerFactory>((limiter, problems, loggers) =>
        {
            var logger = loggers.CreateLogger(typeof(RateLimits));
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, _) =>
            {
                var http = context.HttpContext;
                // A token bucket always says when its next token comes; a limiter that does not gets the shortest honest wait.
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                LogRefused(logger, LogValues.Text(http.Request.Path), retryAfter);
                await problems.WriteAsync(http, CommonProblems.RateLimited.Create(CommonProblems.RetryLaterDetail));
            };
        });
        return builder;
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Rate limit reached on {Path}; retry after {RetryAfter} s")]
    private static partial void LogRefused(ILogger logger, string path, int retryAfter);
}
