using System.Globalization;
using BffSessions.Api.Payments.Budget;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// A rush on the Stripe budget by many ordinary users, run against any schedule (one instance's in Unit, PostgreSQL's in Postgres) so that both
/// are held to the same numbers: 150 users each asking about every 10 s against a budget of 5 a second, three times
/// what it allows, and one more user whose client does what the 503 says: asks again after its Retry-After (whole
/// seconds, rounded up, as StripeProblemHandler writes it), and 10 s after a session like the others. It asks last in
/// each quarter second, when the near half (first come, first served) has been taken: only its share can serve it.
/// </summary>
public static class FairShareRush
{
    /// <summary>
    /// <paramref name="book"/> books a first call for a user at a time from the start, never earlier than the one
    /// before. Returns how often the obedient client was served, its longest run of refusals, and every refusal.
    /// </summary>
    public static async Task<(int Served, int LongestRun, string Why)> ObedientClientAsync(Func<string, TimeSpan, ValueTask<CallBooking>> book)
    {
        var tick = TimeSpan.FromMilliseconds(250);
        var arrivals = new Random(20261208);
        var crowd = Enumerable.Range(0, 150).Select(i => (User: $"user-{i}", Next: TimeSpan.FromMilliseconds(arrivals.Next(10_000)))).ToArray();
        var obedient = TimeSpan.FromSeconds(60); // once every user of the crowd has been served and holds a share
        var refusals = new List<string>();
        var longestRun = 0;
        var run = 0;
        var served = 0;

        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromSeconds(360); elapsed += tick)
        {
            for (var i = 0; i < crowd.Length; i++)
            {
                if (crowd[i].Next <= elapsed)
                {
                    await book(crowd[i].User, elapsed);
                    crowd[i].Next = elapsed + TimeSpan.FromMilliseconds(9_000 + arrivals.Next(2_000));
                }
            }

            if (obedient <= elapsed)
            {
                var booking = await book("obedient", elapsed);
                if (booking.Booked)
                {
                    served++;
                    run = 0;
                    obedient = elapsed + booking.Wait + TimeSpan.FromSeconds(10);
                }
                else
                {
                    var retryAfter = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(booking.Wait.TotalSeconds)));
                    refusals.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{elapsed.TotalSeconds:0.0}s:{(booking.OverShare ? "share" : "full")}:{retryAfter.TotalSeconds:0}"));
                    longestRun = Math.Max(longestRun, ++run);
                    obedient = elapsed + retryAfter;
                }
            }
        }

        return (served, longestRun, $"served {served}; refused {refusals.Count} times: {string.Join(' ', refusals)}");
    }
}
