using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Offers requests at a fixed rate whatever the answers (open loop, as users arriving at a page do): request i is
/// due at start + i / rate and sent then, and its latency counts from when it was due, so a slow answer cannot hide
/// the requests that would have followed it.
/// </summary>
public static class OpenLoopLoad
{
    /// <summary>One answer: when it was due and done (<see cref="Stopwatch"/> timestamps), its status, Retry-After and problem type.</summary>
    public sealed record Answer(int Index, long Due, long Done, HttpStatusCode Status, string? RetryAfter, string? ProblemType)
    {
        public TimeSpan Latency => Stopwatch.GetElapsedTime(Due, Done);
    }

    /// <summary>
    /// Sends <paramref name="count"/> session requests at <paramref name="perSecond"/>, request i through
    /// <paramref name="clientFor"/>(i); returns every answer, and how late the last request left.
    /// </summary>
    public static async Task<(IReadOnlyList<Answer> Answers, TimeSpan LastLeftLate)> RunAsync(int count, double perSecond, Func<int, HttpClient> clientFor, object body)
    {
        var start = Stopwatch.GetTimestamp();
        var spacing = Stopwatch.Frequency / perSecond;
        var sent = new List<Task<Answer>>(count);
        var lastLeftLate = TimeSpan.Zero;
        for (var i = 0; i < count; i++)
        {
            var due = start + (long)(i * spacing);
            while (Stopwatch.GetTimestamp() < due)
            {
                await Task.Delay(1);
            }

            lastLeftLate = Stopwatch.GetElapsedTime(due);
            sent.Add(SendAsync(i, due, clientFor(i), body));
        }

        return (await Task.WhenAll(sent), lastLeftLate);
    }

    private static async Task<Answer> SendAsync(int index, long due, HttpClient client, object body)
    {
        await Task.Yield();
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", body);
        var done = Stopwatch.GetTimestamp();
        string? type = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            type = problem.TryGetProperty("type", out var t) ? t.GetString() : null;
        }

        return new Answer(index, due, done, response.StatusCode, response.Headers.RetryAfter?.ToString(), type);
    }
}
