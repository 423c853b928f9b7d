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

    /// <summary>True for the request's first booking in the budget only: fair shares are counted per request.</summary>
    internal bool FirstBooking() => Interlocked.Exchange(ref _booked, 1) == 0;

    /// <summary>Counts <paramref name="waited"/> against the budget wait left.</summary>
    internal void Waited(TimeSpan waited) => Interlocked.Add(ref _budgetWaitLeftTicks, -waited.Ticks);

    private sealed class Scope(StripeAllowance? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }
}
