// The benchmark's Stripe: answers POST /v1/customers and POST /v1/customer_sessions with canned, Stripe-shaped JSON
// as fast as Kestrel can, after an optional fixed latency (STANDIN_LATENCY_MS), and counts calls by path
// (GET /__stats). It is the ceiling of the benchmark: no service can answer faster than the Stripe behind it.
// With TELEMETRY=1, bench/run also points the service's OTLP exporter here: POST /v1/traces, /v1/metrics and
// /v1/logs are taken (OTLP/HTTP), counted in bytes, and answered with an empty success.
// With STANDIN_LIMIT_RPS it also enforces Stripe's rate limit, as Stripe does: at most that many calls accepted in any
// one second, 429 (code rate_limit, Stripe-Rate-Limited-Reason; Stripe-Should-Retry: true with STANDIN_429_SHOULD_RETRY=1)
// above it; /__stats then adds the 429s and the most calls that arrived in any one second.
using System.Diagnostics;
using System.Text;

var latency = TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("STANDIN_LATENCY_MS"), out var ms) ? ms : 0);
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

long sessions = 0, customers = 0, otlpBytes = 0;
var limit = int.TryParse(Environment.GetEnvironmentVariable("STANDIN_LIMIT_RPS"), out var l) && l > 0 ? l : (int?)null;
var shouldRetry = Environment.GetEnvironmentVariable("STANDIN_429_SHOULD_RETRY") == "1";
var rateLimit = new RateLimit();
var refusal = Encoding.UTF8.GetBytes("{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\",\"message\":\"Request rate limit exceeded.\"}}");
var sessionStart = Encoding.UTF8.GetBytes(
    "{\"object\":\"customer_session\",\"client_secret\":\"cuss_secret_QXhWeUEtZoDV8FHnNbPiBHmAkXKnqYLGMGq7LLf8ODSQ8gL\",\"customer\":\"");
// Stripe's sessions expire 30 minutes after they are made (the service refuses anything beyond a day): the tail of the
// answer is rebuilt once a second, not per call.
var sessionEnd = new Tail(0, []);
byte[] SessionEnd()
{
    var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    var end = sessionEnd;
    if (end.Second != now)
    {
        end = new Tail(now, Encoding.UTF8.GetBytes($"\",\"created\":{now},\"expires_at\":{now + 1800},\"livemode\":false,\"components\":{{}}}}"));
        sessionEnd = end;
    }

    return end.Bytes;
}

app.MapPost("/v1/customer_sessions", async (HttpContext http) =>
{
    var body = await DrainAsync(http);
    if (limit is { } perSecond && !rateLimit.Accept(perSecond))
    {
        await RefuseAsync(http);
        return;
    }

    Interlocked.Increment(ref sessions);
    if (latency > TimeSpan.Zero)
    {
        await Task.Delay(latency);
    }

    // The session names the customer it was asked for, as Stripe's does (the service checks that it does).
    http.Response.ContentType = "application/json";
    http.Response.Headers["Request-Id"] = "req_bench";
    await http.Response.Body.WriteAsync(sessionStart);
    await http.Response.Body.WriteAsync(CustomerOf(body));
    await http.Response.Body.WriteAsync(SessionEnd());
});

app.MapPost("/v1/customers", async (HttpContext http) =>
{
    await DrainAsync(http);
    if (limit is { } perSecond && !rateLimit.Accept(perSecond))
    {
        await RefuseAsync(http);
        return;
    }

    var n = Interlocked.Increment(ref customers);
    http.Response.ContentType = "application/json";
    await http.Response.WriteAsync($"{{\"id\":\"cus_bench{n:D12}\",\"object\":\"customer\",\"livemode\":false}}");
});

foreach (var signal in new[] { "traces", "metrics", "logs" })
{
    app.MapPost($"/v1/{signal}", async (HttpContext http) =>
    {
        Interlocked.Add(ref otlpBytes, (await DrainAsync(http)).Length);
        http.Response.ContentType = "application/x-protobuf"; // an empty Export*ServiceResponse: all accepted
    });
}

app.MapGet("/__stats", () => Results.Json(new
{
    sessions = Interlocked.Read(ref sessions),
    customers = Interlocked.Read(ref customers),
    otlpBytes = Interlocked.Read(ref otlpBytes),
    refused = rateLimit.Refused,
    maxPerSecond = rateLimit.MaxPerSecond,
}));

app.Run();

async Task RefuseAsync(HttpContext http)
{
    http.Response.StatusCode = 429;
    http.Response.ContentType = "application/json";
    http.Response.Headers["Stripe-Rate-Limited-Reason"] = "global-rate";
    if (shouldRetry)
    {
        http.Response.Headers["Stripe-Should-Retry"] = "true";
    }

    await http.Response.Body.WriteAsync(refusal);
}

static async Task<byte[]> DrainAsync(HttpContext http)
{
    using var body = new MemoryStream();
    await http.Request.Body.CopyToAsync(body);
    return body.ToArray();
}

// The form's customer=… value (an id needs no decoding).
static ReadOnlyMemory<byte> CustomerOf(byte[] form)
{
    for (var start = 0; start < form.Length;)
    {
        var end = Array.IndexOf(form, (byte)'&', start);
        end = end < 0 ? form.Length : end;
        if (form.AsSpan(start, end - start).StartsWith("customer="u8))
        {
            return form.AsMemory(start + 9, end - start - 9);
        }

        start = end + 1;
    }

    return ReadOnlyMemory<byte>.Empty;
}

/// <summary>Stripe's limit: calls accepted in the last second, and the most that arrived in any one second.</summary>
sealed class RateLimit
{
    private readonly Queue<long> _accepted = new();
    private readonly Queue<long> _arrived = new();
    private long _refused;
    private int _maxPerSecond;

    public long Refused => Interlocked.Read(ref _refused);

    public int MaxPerSecond => Volatile.Read(ref _maxPerSecond);

    public bool Accept(int perSecond)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_accepted)
        {
            Forget(_accepted, now);
            Forget(_arrived, now);
            _arrived.Enqueue(now);
            _maxPerSecond = Math.Max(_maxPerSecond, _arrived.Count);
            if (_accepted.Count >= perSecond)
            {
                Interlocked.Increment(ref _refused);
                return false;
            }

            _accepted.Enqueue(now);
            return true;
        }
    }

    private static void Forget(Queue<long> times, long now)
    {
        while (times.Count > 0 && Stopwatch.GetElapsedTime(times.Peek(), now) >= TimeSpan.FromSeconds(1))
        {
            times.Dequeue();
        }
    }
}

/// <summary>The end of a session's JSON, as of one second.</summary>
sealed record Tail(long Second, byte[] Bytes);
