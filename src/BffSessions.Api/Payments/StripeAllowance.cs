namespace BffSessions.Api.Payments;

/// <summary>
/// What one request may spend on Stripe across all of its calls (a first request creates the customer, then the
/// session; each may be retried): <see cref="StripeOptions.Timeout"/> of Stripe's time, retries included, and
/// <see cref="StripeOptions.BudgetWait"/> of waiting for turns in the budget; and whose request it is, for the
/// budget's fair shares. Begun where a request starts using Stripe (<see cref="Begin"/>); calls made outside one (the
/// settler's) each get a whole allowance of their own.
/// </summary>
public sealed class StripeAllowance
{
    private static readonly AsyncLocal<StripeAllowance?> Current = new();

    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly TimeSpan _timeout;
    private long _budgetWaitLeftTicks;
    private int _booked;
    private int _nextCallFollows;
    private long _bookedTurn = NoTurn;

    private const long NoTurn = long.MinValue;

    private StripeAllowance(string user, TimeSpan timeout, TimeSpan budgetWait, TimeProvider time)
    {
        User = user;
        _time = time;
        _started = time.GetTimestamp();
        _timeout = timeout;
        _budgetWaitLeftTicks = budgetWait.Ticks;
    }

    /// <summary>The allowance of the request in this async flow, if one was begun.</summary>
    public static StripeAllowance? Active => Current.Value;

    /// <summary>Whose request it is (<see cref="CustomerOwner.Key"/>): the budget shares turns out fairly between users.</summary>
    public string User { get; }

    /// <summary>Stripe's time left: the whole request's calls share <see cref="StripeOptions.Timeout"/>.</summary>
    public TimeSpan TimeLeft => _timeout - _time.GetElapsedTime(_started);

    /// <summary>How much longer the request may wait for turns in the budget.</summary>
    public TimeSpan BudgetWaitLeft => TimeSpan.FromTicks(Math.Max(0, Interlocked.Read(ref _budgetWaitLeftTicks)));

    /// <summary>Starts the allowance of <paramref name="user"/>'s request; disposing the scope ends it.</summary>
    public static IDisposable Begin(string user, StripeOptions options, TimeProvider time)
    {
        var previous = Current.Value;
        Current.Value = new StripeAllowance(user, options.Timeout, options.BudgetWait, time);
        return new Scope(previous);
    }

    /// <summary>
    /// Says that the Stripe call about to be made is followed by another in this request (a new user's customer, then
    /// their session): the turn in the budget that this call gets books the next call's turn too. Booked only once the
    /// first call is answered, under a flood that turn would be a whole schedule away, beyond what is left of the
    /// request's one <see cref="StripeOptions.BudgetWait"/>, and a new user's first request refused. The next call is the
    /// next attempt to reach Stripe: a retry of this one (Stripe.net's) takes the turn booked for it.
    /// </summary>
    public void BookNextCallWithThisOne() => Volatile.Write(ref _nextCallFollows, 1);

    /// <summary>True for the request's first booking in the budget only: fair shares are counted per request.</summary>
    internal bool FirstBooking() => Interlocked.Exchange(ref _booked, 1) == 0;

    /// <summary>True once after <see cref="BookNextCallWithThisOne"/>: the turn being taken books the next call's too.</summary>
    internal bool TakeNextCallFollows() => Interlocked.Exchange(ref _nextCallFollows, 0) == 1;

    /// <summary>Keeps the turn booked for the request's next call, due at <paramref name="timestamp"/> (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    internal void KeepBookedTurn(long timestamp) => Interlocked.Exchange(ref _bookedTurn, timestamp);

    /// <summary>The turn the call before booked for this one, if any: taken once.</summary>
    internal bool TakeBookedTurn(out long timestamp)
    {
        timestamp = Interlocked.Exchange(ref _bookedTurn, NoTurn);
        return timestamp != NoTurn;
    }

    /// <summary>Counts <paramref name="waited"/> against the budget wait left.</summary>
    internal void Waited(TimeSpan waited) => Interlocked.Add(ref _budgetWaitLeftTicks, -waited.Ticks);

    private sealed class Scope(StripeAllowance? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
