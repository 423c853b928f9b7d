// The Stripe stand-in as a process: for the benchmark (bench/run) and docker-compose (in place of stripe-mock).
// Listens on ASPNETCORE_URLS, or --urls (http://127.0.0.1:12111 unless told; a port of 0 takes a free one), and
// prints "listening on <url>" once it does. Settings (all optional; the control API changes them while it runs):
//   STANDIN_LATENCY_MS                    added before every Stripe answer
//   STANDIN_RATE_LIMIT                    calls/s on every count (an account whose limits Stripe raised); 0 = none;
//                                         unset = Stripe's own: 25/s in a sandbox, 100/s live, 25/s per endpoint
//   STANDIN_429_SHOULD_RETRY              1 = the 429s say Stripe-Should-Retry: true
//   STANDIN_SESSION_LIFETIME_SECONDS      customer sessions' lifetime (1800, Stripe's)
//   STANDIN_SEARCH_LAG_SECONDS            how long a new customer takes to show in search (60)
//   STANDIN_IDEMPOTENCY_RETENTION_SECONDS how long v1 keys are kept (86400, Stripe's minimum)
//   STANDIN_WEBHOOK_URL, STANDIN_WEBHOOK_SECRET   where deletions are announced as signed events
//   STANDIN_STATE_FILE                    keep customers and accounts across restarts
//   STANDIN_MAX_RECORDED                  requests kept for /__standin/requests (10000)
using System.Globalization;

namespace BffSessions.StandIn;

/// <summary>The entry point (a class of its own: top-level statements would make a public Program that clashes with the service's in tests).</summary>
internal static class Program
{
    public static async Task Main(string[] args)
    {
        var options = new StandInOptions { MaxRecordedRequests = Number("STANDIN_MAX_RECORDED") is { } max ? (int)max : 10_000 };
        if (Number("STANDIN_LATENCY_MS") is { } latency)
        {
            options.Latency = TimeSpan.FromMilliseconds(latency);
        }

        if (Number("STANDIN_RATE_LIMIT") is { } rate)
        {
            options.RateLimits = rate > 0 ? RateLimits.Raised((int)rate) : RateLimits.Unlimited;
        }

        options.RateLimits.ShouldRetry = Environment.GetEnvironmentVariable("STANDIN_429_SHOULD_RETRY") == "1";
        if (Number("STANDIN_SESSION_LIFETIME_SECONDS") is { } lifetime)
        {
            options.SessionLifetime = TimeSpan.FromSeconds(lifetime);
        }

        if (Number("STANDIN_SEARCH_LAG_SECONDS") is { } lag)
        {
            options.SearchLag = TimeSpan.FromSeconds(lag);
        }

        if (Number("STANDIN_IDEMPOTENCY_RETENTION_SECONDS") is { } retention)
        {
            options.IdempotencyRetention = TimeSpan.FromSeconds(retention);
        }

        if (Environment.GetEnvironmentVariable("STANDIN_WEBHOOK_URL") is { Length: > 0 } webhookUrl)
        {
            options.WebhookUrl = new Uri(webhookUrl);
            options.WebhookSecret = Environment.GetEnvironmentVariable("STANDIN_WEBHOOK_SECRET");
        }

        options.StateFile = Environment.GetEnvironmentVariable("STANDIN_STATE_FILE") is { Length: > 0 } stateFile ? stateFile : null;

        var urlArgument = Array.IndexOf(args, "--urls");
        var url = urlArgument >= 0 && urlArgument + 1 < args.Length ? args[urlArgument + 1]
            : Environment.GetEnvironmentVariable("ASPNETCORE_URLS") is { Length: > 0 } urls ? urls.Split(';')[0]
            : "http://127.0.0.1:12111";
        await using var standIn = await StripeStandIn.StartAsync(options, url);
        Console.WriteLine($"listening on {standIn.BaseAddress.ToString().TrimEnd('/')}");

        // The host's own lifetime: SIGTERM (docker stop) and Ctrl+C end it.
        await standIn.WaitForShutdownAsync();
    }

    private static double? Number(string name) =>
        double.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
}
