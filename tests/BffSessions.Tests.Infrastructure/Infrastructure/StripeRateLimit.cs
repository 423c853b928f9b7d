using System.Diagnostics;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Stripe's rate limit as the stand-in enforces it (an account allowed <c>perSecond</c> calls in any one second; above
/// it a 429 with <c>Stripe-Rate-Limited-Reason</c> and code rate_limit), and every arrival with its time, path, status
/// and API key, read from what the stand-in recorded.
/// </summary>
public sealed class StripeRateLimit
{
    private readonly StripeStandIn _stripe;

    private StripeRateLimit(StripeStandIn stripe) => _stripe = stripe;

    /// <summary>One call as the stand-in saw it.</summary>
    public sealed record Arrival(long At, string Path, int Status, string Key);

    /// <summary>Limits every call to <paramref name="perSecond"/>; <paramref name="shouldRetry"/> makes the 429s say Stripe-Should-Retry: true.</summary>
    public static StripeRateLimit Enforce(StripeStandIn stripe, int perSecond, bool shouldRetry = false)
    {
        var limits = RateLimits.Raised(perSecond);
        limits.ShouldRetry = shouldRetry;
        stripe.Options.RateLimits = limits;
        return new StripeRateLimit(stripe);
    }

    public IReadOnlyList<Arrival> Arrivals =>
        _stripe.Requests.Select(r => new Arrival(r.ArrivedAt, r.Path, r.Status, r.Headers.GetValueOrDefault("Authorization", ""))).ToList();

    /// <summary>The most arrivals (of any status) in any window of one second, from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public int MaxPerSecond(long from, long to, Func<Arrival, bool>? which = null)
    {
        var times = Arrivals.Where(a => a.At >= from && a.At < to && (which?.Invoke(a) ?? true)).Select(a => a.At).Order().ToList();
        var max = 0;
        for (int first = 0, last = 0; last < times.Count; last++)
        {
            while (Stopwatch.GetElapsedTime(times[first], times[last]) >= TimeSpan.FromSeconds(1))
            {
                first++;
            }

            max = Math.Max(max, last - first + 1);
        }

        return max;
    }
}
