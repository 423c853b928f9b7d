using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Stripe's rate limit, enforced by the stand-in as Stripe does: at most <c>perSecond</c> calls accepted in any one
/// second (a sliding window), and above it a 429 with <c>Stripe-Rate-Limited-Reason</c> and code rate_limit. Every
/// arrival is recorded with its time (<see cref="Stopwatch.GetTimestamp"/>), path, status and API key.
/// </summary>
public sealed class StripeRateLimit
{
    private readonly int _perSecond;
    private readonly bool _shouldRetry;
    private readonly Queue<long> _accepted = new();
    private readonly List<Arrival> _arrivals = [];
    private readonly StripeStandIn _stripe;

    private StripeRateLimit(StripeStandIn stripe, int perSecond, bool shouldRetry)
    {
        _stripe = stripe;
        _perSecond = perSecond;
        _shouldRetry = shouldRetry;
    }

    /// <summary>One call as the stand-in saw it.</summary>
    public sealed record Arrival(long At, string Path, int Status, string Key);

    /// <summary>Limits the calls this service makes (customers, accounts, sessions); <paramref name="shouldRetry"/> adds Stripe-Should-Retry: true.</summary>
    public static StripeRateLimit Enforce(StripeStandIn stripe, int perSecond, bool shouldRetry = false)
    {
        var limit = new StripeRateLimit(stripe, perSecond, shouldRetry);
        foreach (var path in new[] { "/v1/customers", "/v1/customer_sessions", "/v2/core/accounts" })
        {
            stripe.Override(path, (request, _) => limit.Answer(request));
        }

        return limit;
    }

    public IReadOnlyList<Arrival> Arrivals
    {
        get
        {
            lock (_arrivals)
            {
                return _arrivals.ToList();
            }
        }
    }

    private IResult Answer(StripeRequest request)
    {
        var now = Stopwatch.GetTimestamp();
        var key = request.Headers.GetValueOrDefault("Authorization", "");
        lock (_arrivals)
        {
            while (_accepted.Count > 0 && Stopwatch.GetElapsedTime(_accepted.Peek(), now) >= TimeSpan.FromSeconds(1))
            {
                _accepted.Dequeue();
            }

            if (_accepted.Count >= _perSecond)
            {
                _arrivals.Add(new Arrival(now, request.Path, 429, key));
                return new Refusal(_shouldRetry);
            }

            _accepted.Enqueue(now);
            _arrivals.Add(new Arrival(now, request.Path, 200, key));
        }

        return _stripe.Default(request);
    }

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

    private sealed class Refusal(bool shouldRetry) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers["Stripe-Rate-Limited-Reason"] = "global-rate";
            if (shouldRetry)
            {
                httpContext.Response.Headers["Stripe-Should-Retry"] = "true";
            }

            return StripeStandIn.Error(429, "invalid_request_error", "rate_limit", "Request rate limit exceeded.").ExecuteAsync(httpContext);
        }
    }
}
