// The benchmark's open-loop load: bench/run's "rush". Offers RATE requests a second for SECONDS, whatever the answers
// (users arriving at a pricing page do not wait for each other, unlike wrk's connections), each to one of the URLS at
// random, and times each from when it was due, so a slow answer cannot hide the requests behind it.
//   dotnet LoadGen.dll URLS RATE SECONDS     (URLS: comma-separated; body and headers as bench/post.lua takes them)
// Prints one line: offered ok 503 429 other p50_ms p95_ms p99_ms (of the ok) refused_without_retry_after max_late_ms
using System.Diagnostics;
using System.Net;
using System.Text;

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
