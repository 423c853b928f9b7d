// The benchmark's open-loop load: bench/run's "rush". Offers RATE requests a second for SECONDS, whatever the answers
// (users arriving at a pricing page do not wait for each other, unlike wrk's connections), each to one of the URLS at
// random, and times each from when it was due, so a slow answer cannot hide the requests behind it.
//   dotnet LoadGen.dll URLS RATE SECONDS     (URLS: comma-separated; body and headers as bench/post.lua takes them)
// Prints one line: offered ok 503 429 other p50_ms p95_ms p99_ms (of the ok) refused_without_retry_after max_late_ms
//
// The fair-share rush (issue #22): BUSY users calling in a loop (each asks again 10 ms after an answer) against
// ORDINARY users asking every 4 s, NEW of them first-time users (their first session creates the customer), for
// SECONDS; each user has a bearer token of their own, minted here (HS256, BENCH_SIGNING_KEY base64, BENCH_ISSUER,
// BENCH_AUDIENCE), so the budget sees them apart.
//   dotnet LoadGen.dll fair URLS SECONDS BUSY ORDINARY NEW
// Prints one line: busy_ok busy_asked ordinary_ok ordinary_asked new_ok new_asked
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;

if (args[0] == "fair")
{
    await FairRushAsync(args[1].Split(','), double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture));
    return;
}

var urls = args[0].Split(',');
var rate = double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var seconds = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var body = Environment.GetEnvironmentVariable("BENCH_BODY") ?? "{}";
var authorization = Environment.GetEnvironmentVariable("BENCH_AUTHORIZATION");

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
{
    Timeout = TimeSpan.FromSeconds(30),
};
var random = new Random(20261126);
var count = (int)(rate * seconds);
var start = Stopwatch.GetTimestamp();
var sent = new List<Task<(HttpStatusCode Status, TimeSpan Latency, bool RetryAfter)>>(count);
var maxLate = TimeSpan.Zero;
for (var i = 0; i < count; i++)
{
    var due = start + (long)(i * Stopwatch.Frequency / rate);
    while (Stopwatch.GetTimestamp() < due)
    {
        await Task.Delay(1);
    }

    var late = Stopwatch.GetElapsedTime(due);
    maxLate = late > maxLate ? late : maxLate;
    sent.Add(SendAsync(urls[random.Next(urls.Length)], due));
}

var answers = await Task.WhenAll(sent);
var ok = answers.Where(a => a.Status == HttpStatusCode.OK).Select(a => a.Latency.TotalMilliseconds).Order().ToList();
double Percentile(double p) => ok.Count == 0 ? 0 : ok[Math.Max(0, (int)Math.Ceiling(ok.Count * p) - 1)];
Console.WriteLine(string.Join(' ',
    count, ok.Count, answers.Count(a => a.Status == HttpStatusCode.ServiceUnavailable), answers.Count(a => a.Status == HttpStatusCode.TooManyRequests),
    answers.Count(a => a.Status is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)),
    Percentile(0.5).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
    Percentile(0.95).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
    Percentile(0.99).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
    answers.Count(a => a.Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests && !a.RetryAfter),
    maxLate.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)));

async Task<(HttpStatusCode, TimeSpan, bool)> SendAsync(string url, long due)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    if (!string.IsNullOrEmpty(authorization))
    {
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
    }

    try
    {
        using var response = await http.SendAsync(request);
        return (response.StatusCode, Stopwatch.GetElapsedTime(due), response.Headers.RetryAfter is not null);
    }
    catch (HttpRequestException)
    {
        return (0, Stopwatch.GetElapsedTime(due), false);
    }
}

static async Task FairRushAsync(string[] urls, double seconds, int busy, int ordinary, int fresh)
{
    var body = Environment.GetEnvironmentVariable("BENCH_BODY") ?? "{}";
    var key = Convert.FromBase64String(Environment.GetEnvironmentVariable("BENCH_SIGNING_KEY")!);
    var issuer = Environment.GetEnvironmentVariable("BENCH_ISSUER")!;
    var audience = Environment.GetEnvironmentVariable("BENCH_AUDIENCE")!;
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = TimeSpan.FromSeconds(30) };
    var run = Guid.NewGuid().ToString("N")[..8];
    var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);

    async Task<(int Ok, int Asked)> UserAsync(string user, string url, TimeSpan pause, TimeSpan startAfter)
    {
        var token = Token(user, issuer, audience, key);
        int ok = 0, asked = 0;
        await Task.Delay(startAfter);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            try
            {
                using var response = await http.SendAsync(request);
                ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }
            catch (HttpRequestException)
            {
            }

            asked++;
            await Task.Delay(pause);
        }

        return (ok, asked);
    }

    // The ordinary users and the busy ones were warmed by bench/run before (their customers exist); the new ones were not.
    var busyUsers = Enumerable.Range(0, busy).Select(i => UserAsync($"fair-busy-{i}", urls[i % urls.Length], TimeSpan.FromMilliseconds(10), TimeSpan.Zero)).ToList();
    var ordinaryUsers = Enumerable.Range(0, ordinary).Select(i =>
        UserAsync($"fair-ordinary-{i}", urls[i % urls.Length], TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(1000 + (600 * i)))).ToList();
    var newUsers = Enumerable.Range(0, fresh).Select(i =>
        UserAsync($"fair-new-{run}-{i}", urls[i % urls.Length], TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(1300 + (600 * i)))).ToList();
    var b = await Task.WhenAll(busyUsers);
    var o = await Task.WhenAll(ordinaryUsers);
    var n = await Task.WhenAll(newUsers);
    Console.WriteLine(string.Join(' ', b.Sum(x => x.Ok), b.Sum(x => x.Asked), o.Sum(x => x.Ok), o.Sum(x => x.Asked), n.Sum(x => x.Ok), n.Sum(x => x.Asked)));
}

// A bearer token as tools/mint-token.cs makes one: HS256, sub, iss, aud, an hour.
static string Token(string user, string issuer, string audience, byte[] key)
{
    static string Part(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    var unsigned = Part("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." +
        Part($"{{\"sub\":\"{user}\",\"iss\":\"{issuer}\",\"aud\":\"{audience}\",\"nbf\":{now - 60},\"iat\":{now - 60},\"exp\":{now + 3600}}}");
    var signature = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(unsigned))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    return unsigned + "." + signature;
}
