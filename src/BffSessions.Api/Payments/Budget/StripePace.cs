namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// How the pace follows Stripe's 429s (additive increase, multiplicative decrease): each 429 halves it, at most once a
/// second and never below a tenth; a second after the last cut it grows back by a tenth of the budget per second.
/// The PostgreSQL functions of the shared schedule compute the same: stripe_slow_down (migration StripeCallBudget) and
/// the booking, stripe_book_share_turn (migration FairShareRetries).
/// </summary>
public static class StripePace
{
    public const double Floor = 0.1;

    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(1);

    /// <summary>The pace <paramref name="sinceCut"/> after it was cut to <paramref name="cut"/>.</summary>
    public static double At(double cut, TimeSpan sinceCut) => Math.Min(1.0, cut + 0.1 * Math.Max(0, (sinceCut - Hold).TotalSeconds));

    public static double Halved(double current) => Math.Max(Floor, current / 2);
}
