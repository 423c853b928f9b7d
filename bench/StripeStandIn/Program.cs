// The benchmark's Stripe: answers POST /v1/customers and POST /v1/customer_sessions with canned, Stripe-shaped JSON
// as fast as Kestrel can, after an optional fixed latency (STANDIN_LATENCY_MS), and counts calls by path
// (GET /__stats). It is the ceiling of the benchmark: no service can answer faster than the Stripe behind it.
// With TELEMETRY=1, bench/run also points the service's OTLP exporter here: POST /v1/traces, /v1/metrics and
// /v1/logs are taken (OTLP/HTTP), counted in bytes, and answered with an empty success.
using System.Text;

var latency = TimeSpan.FromMilliseconds(int.TryParse(Environment.GetEnvironmentVariable("STANDIN_LATENCY_MS"), out var ms) ? ms : 0);
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

long sessions = 0, customers = 0, otlpBytes = 0;
var expiresAt = DateTimeOffset.UtcNow.AddYears(1).ToUnixTimeSeconds();
var session = Encoding.UTF8.GetBytes(
    "{\"object\":\"customer_session\",\"client_secret\":\"cuss_secret_QXhWeUEtZoDV8FHnNbPiBHmAkXKnqYLGMGq7LLf8ODSQ8gL\"," +
    $"\"customer\":\"cus_bench000000001\",\"created\":1234567890,\"expires_at\":{expiresAt},\"livemode\":false,\"components\":{{}}}}");

app.MapPost("/v1/customer_sessions", async (HttpContext http) =>
{
    Interlocked.Increment(ref sessions);
    await DrainAsync(http);
    if (latency > TimeSpan.Zero)
    {
        await Task.Delay(latency);
    }

    http.Response.ContentType = "application/json";
    http.Response.Headers["Request-Id"] = "req_bench";
    await http.Response.Body.WriteAsync(session);
});

app.MapPost("/v1/customers", async (HttpContext http) =>
{
    var n = Interlocked.Increment(ref customers);
    await DrainAsync(http);
    http.Response.ContentType = "application/json";
    await http.Response.WriteAsync($"{{\"id\":\"cus_bench{n:D12}\",\"object\":\"customer\",\"livemode\":false}}");
});

foreach (var signal in new[] { "traces", "metrics", "logs" })
{
    app.MapPost($"/v1/{signal}", async (HttpContext http) =>
    {
        Interlocked.Add(ref otlpBytes, await DrainAsync(http));
        http.Response.ContentType = "application/x-protobuf"; // an empty Export*ServiceResponse: all accepted
    });
}

app.MapGet("/__stats", () => Results.Json(new
{
    sessions = Interlocked.Read(ref sessions),
    customers = Interlocked.Read(ref customers),
    otlpBytes = Interlocked.Read(ref otlpBytes),
}));

app.Run();

static async Task<long> DrainAsync(HttpContext http)
{
    var buffer = new byte[4096];
    long total = 0;
    int read;
    while ((read = await http.Request.Body.ReadAsync(buffer)) > 0)
    {
        total += read;
    }

    return total;
}
