namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The schedule of the deployment's Stripe calls: in this process for one instance (<see cref="InMemoryCallSchedule"/>),
/// in PostgreSQL for several (<see cref="PostgresCallSchedule"/>).
/// </summary>
public interface IStripeCallSchedule
{
    /// <summary>
    /// Books the next turn for <paramref name="user"/>, spacing turns <c>1 / (callsPerSecond × pace)</c> apart, unless
    /// that turn is more than <paramref name="maxWait"/> away, or the schedule is contended and the user has had their
    /// fair share (<see cref="FairShares"/>): then nothing is booked, and the wait says when to ask again. Shares are
    /// counted per request: only a request's first call (<paramref name="firstOfRequest"/>) is held to it; the rest of
    /// the request (a new user's session after its customer, retries) follows it.
    /// </summary>
    ValueTask<CallBooking> BookAsync(string user, bool firstOfRequest, int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>Halves the pace (at most once a second), after Stripe rate-limited a call.</summary>
    ValueTask SlowDownAsync(CancellationToken cancellationToken);

    /// <summary>The share of the budget in use now: 1, or less for a while after Stripe's 429s (<see cref="StripePace"/>).</summary>
    double Pace { get; }

    /// <summary>The part of the deployment's budget this instance books from: 1, or its own share while falling back.</summary>
    double Share { get; }

    /// <summary>True while the shared schedule cannot be used and this instance keeps to its own share.</summary>
    bool IsFallingBack { get; }
}
