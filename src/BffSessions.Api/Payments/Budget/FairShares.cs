namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The budget's fairness between users. Turns within the near half of <see cref="StripeOptions.BudgetWait"/> go first
/// come, first served. The far half is kept, while several users are active (asked in the last
/// <see cref="ActiveWindow"/>), for users whose share time has come: a request booked, or refused for asking before its
/// user's share time, puts that user's next share <c>active / rate</c> seconds on (at most <see cref="MaxShareInterval"/>),
/// an equal share of the budget each. So users asking more often than that are never due one and fill only the near
/// half, and an ordinary user's occasional call still finds a turn; one user alone, or a budget lightly used, meets no
/// share at all. A request refused only because no turn was free moves no share: its user was within it. The
/// Retry-After of a refusal over share is the share time after the move, so a client that waits for it asks within its
/// share. First come, first served let a few users calling in a loop take every turn ahead of everyone else's; moving
/// no share for refused requests lets every user become due under a steady overload, where an obedient client's
/// retries are refused with everyone else's.
/// </summary>
public static class FairShares
{
    /// <summary>
    /// Whether a user asking now is over their share: several users are <paramref name="active"/>, the turn on offer is
    /// <paramref name="wait"/> away, in the far half of <paramref name="maxWait"/>, and the user's share time has not
    /// come (<paramref name="shareLater"/>).
    /// </summary>
    public static bool IsOverShare(int active, TimeSpan wait, TimeSpan maxWait, bool shareLater) =>
        active > 1 && wait > maxWait / 2 && shareLater;

    /// <summary>
    /// The longest a share may be (<c>active / rate</c> is cut to it): the longest Retry-After a 503 says
    /// (StripeProblemHandler), so that a client that waits for it is never told to ask again before its share time.
    /// </summary>
    public static readonly TimeSpan MaxShareInterval = TimeSpan.FromMinutes(1);

    /// <summary>How long a user counts as active after asking for a turn (or being refused one).</summary>
    public static readonly TimeSpan ActiveWindow = TimeSpan.FromSeconds(5);

    /// <summary>The user of calls made outside a request (the settler's): they share the budget as one user.</summary>
    public const string Background = "bffsessions:background";
}

/// <summary>
/// The users of one instance's schedule: when each last asked, and when each may book again under contention. A user
/// counts as active for <see cref="FairShares.ActiveWindow"/> after asking; their share time is kept until it has
/// come, however long they keep quiet: forgotten sooner, a user asking every 6 s against a share of 30 s would be due
/// at every ask (PostgreSQL's table keeps it for an hour alike).
/// </summary>
internal sealed class ActiveUsers(TimeProvider time)
{
    private readonly Dictionary<string, Entry> _byUser = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _bySeen = new();
    private readonly PriorityQueue<Entry, long> _quietByNext = new();

    /// <summary>Users who asked within <see cref="FairShares.ActiveWindow"/> of <paramref name="now"/>, <paramref name="user"/> included.</summary>
    public int Touch(string user, long now, out Entry entry)
    {
        var window = (long)(FairShares.ActiveWindow.TotalSeconds * time.TimestampFrequency);
        // Asked a whole window ago is no longer active: the same edge as PostgreSQL's seen_at > now - window.
        while (_bySeen.First is { } oldest && now - oldest.Value.Seen >= window)
        {
            _bySeen.RemoveFirst();
            oldest.Value.Node = null;
            _quietByNext.Enqueue(oldest.Value, oldest.Value.Next);
        }

        // Quiet users whose share time has come are forgotten: a new entry says the same (due at once). A user quiet
        // more than once is queued more than once; only the entry still theirs, quiet and due, goes.
        while (_quietByNext.TryPeek(out var quiet, out var next) && next <= now)
        {
            _quietByNext.Dequeue();
            if (quiet.Node is null && quiet.Next <= now && _byUser.TryGetValue(quiet.User, out var current) && ReferenceEquals(current, quiet))
            {
                _byUser.Remove(quiet.User);
            }
        }

        if (!_byUser.TryGetValue(user, out var found))
        {
            found = new Entry(user, long.MinValue);
            _byUser[user] = found;
        }

        if (found.Node is { } node)
        {
            _bySeen.Remove(node);
        }

        found.Seen = now;
        found.Node = _bySeen.AddLast(found);
        entry = found;
        return _bySeen.Count;
    }

    internal sealed class Entry(string user, long next)
    {
        public string User { get; } = user;

        public long Seen { get; set; }

        /// <summary>The earliest turn the user may book while the schedule is contended.</summary>
        public long Next { get; set; } = next;

        /// <summary>Its place among the active users; null while quiet.</summary>
        public LinkedListNode<Entry>? Node { get; set; }
    }
}
