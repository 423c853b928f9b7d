using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// The record of customer creations (<c>customer_creations</c>): each attempt is written, and committed on its own,
/// before Stripe is called, whatever transaction the caller holds; it goes when its customer is in the map, or when it
/// is settled.
/// </summary>
public sealed class CustomerCreations(IDbContextFactory<AppDbContext> databases, IOptions<StripeOptions> stripe, TimeProvider time)
{
    /// <summary>
    /// A v1 attempt older than this is not sent again: Stripe prunes keys after at least 24 hours, and a pruned key
    /// could make a second customer where the lost call made one. The settler takes open attempts long before (after
    /// <see cref="CustomerCreationSettler.OpenFor"/>); this guards the time it is not running.
    /// </summary>
    public static readonly TimeSpan V1KeyLife = TimeSpan.FromHours(23);

    /// <summary>API v2 keeps keys for 30 days: an Account attempt is sent again under its key until then.</summary>
    public static readonly TimeSpan V2KeyLife = TimeSpan.FromDays(29);

    /// <summary>
    /// The user's open attempt for this kind and replacement, if Stripe still holds its key: the one to send again.
    /// Any other open attempt of the user is left for settling.
    /// </summary>
    public async Task<CustomerCreation?> OpenAsync(CustomerOwner owner, CustomerKind kind, string? replacing, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var open = await db.Set<CustomerCreationAttempt>().AsNoTracking()
            .Where(a => a.Issuer == owner.Issuer && a.UserId == owner.UserId && a.State == CreationState.Pending)
            .ToListAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var usable = open.Where(a => a.Kind == kind && a.Replacing == replacing && now - a.StartedAt < KeyLife(a.Kind)).MaxBy(a => a.StartedAt);
        foreach (var stale in open.Where(a => a != usable))
        {
            await UnsettledAsync(stale.IdempotencyKey, cancellationToken);
        }

        return usable?.ToCreation();
    }

    /// <summary>Records <paramref name="creation"/> as open, committed before Stripe is called.</summary>
    public async Task<CustomerCreation> RecordAsync(CustomerCreation creation, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.Add(CustomerCreationAttempt.Of(creation, time.GetUtcNow().UtcDateTime));
        await db.SaveChangesAsync(cancellationToken);
        return creation;
    }

    /// <summary>
    /// Stripe's answer to the attempt may have made a customer all the same: searched for once Stripe's search shows
    /// it (<see cref="StripeOptions.SearchLag"/> from now; an Account v2 attempt, not searchable, once its key is gone).
    /// </summary>
    public async Task UnsettledAsync(string key, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var searchable = now + stripe.Value.SearchLag;
        var accountKeyGone = now + V2KeyLife;
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key).ExecuteUpdateAsync(set => set
            .SetProperty(a => a.State, CreationState.Unsettled)
            .SetProperty(a => a.UpdatedAt, now)
            .SetProperty(a => a.SettleAfter, a => a.Kind == CustomerKind.Account ? accountKeyGone : searchable), cancellationToken);
    }

    /// <summary>Forgets the attempt: Stripe stored nothing for it and made nothing (it refused a value).</summary>
    public async Task ForgetAsync(string key, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key).ExecuteDeleteAsync(cancellationToken);
    }

    public static TimeSpan KeyLife(CustomerKind kind) => kind == CustomerKind.Account ? V2KeyLife : V1KeyLife;
}
