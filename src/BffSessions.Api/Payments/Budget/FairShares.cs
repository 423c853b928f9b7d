namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The budget's fairness between users. Turns within the near half of <see cref="StripeOptions.BudgetWait"/> go first
/// come, first served. The far half is kept, while several users are active (asked in the last
/// <see cref="ActiveWindow"/>), for users whose share time has come: each request (booked or not) puts its user's next
/// share <c>active / rate</c> seconds on, an equal share of the budget each. So users asking more often than that are
/// never due one and fill only the near half, and an ordinary user's occasional call still finds a turn; one user
/// alone, or a budget lightly used, meets no share at all. First come, first served let a few users calling in a loop take every
/// turn ahead of everyone else's.
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

    /// <summary>How long a user counts as active after asking for a turn (or being refused one).</summary>
    public static readonly TimeSpan ActiveWindow = TimeSpan.FromSeconds(5);

    /// <summary>The user of calls made outside a request (the settler's): they share the budget as one user.</summary>
    public const string Background = "bffsessions:background";
}

/// <summary>The users of one instance's schedule: when each last asked, and when each may book again under contention.</summary>
internal sealed class ActiveUsers(TimeProvider time)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _byUser = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _bySeen = new();

    /// <summary>Users who asked within <see cref="FairShares.ActiveWindow"/> of <paramref name="now"/>, <paramref name="user"/> included.</summary>
    public int Touch(string user, long now, out Entry entry)
    {
        var window = (long)(FairShares.ActiveWindow.TotalSeconds * time.TimestampFrequency);
        while (_bySeen.First is { } oldest && now - oldest.Value.Seen > window)
        {
            _byUser.Remove(oldest.Value.User);
            _bySeen.RemoveFirst();
        }

        if (_byUser.TryGetValue(user, out var node))
        {
            _bySeen.Remove(node);
        }
        else
        {
            node = new LinkedListNode<Entry>(new Entry(user, long.MinValue));
            _byUser[user] = node;
        }

        node.Value.Seen = now;
        _bySeen.AddLast(node);
        entry = node.Value;
        return _byUser.Count;
    }

    internal sealed class Entry(string user, long next)
    {
        public string User { get; } = user;

        public long Seen { get; set; }

        /// <summary>The earliest turn the user may book while the schedule is contended.</summary>
        public long Next { get; set; } = next;
    }
}
