using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>The user → Stripe customer map, as the session issuer sees it.</summary>
public interface ICustomerResolver
{
    /// <summary>The owner's customer: from memory, the database, or — once per user, across every instance — Stripe.</summary>
    ValueTask<CustomerRef> ResolveAsync(CustomerOwner owner, CancellationToken cancellationToken);

    /// <summary>
    /// Stripe says <paramref name="missingCustomerId"/> no longer exists (deleted in the Dashboard): create the owner a
    /// new customer and repoint the map — unless a concurrent request, here or on another instance, already has.
    /// </summary>
    Task<CustomerRef> ReplaceMissingAsync(CustomerOwner owner, string missingCustomerId, CancellationToken cancellationToken);
}

/// <summary>
/// user (issuer and subject) → Stripe customer id: memory, then the database, then — once per user, across every instance — Stripe.
/// Also replaces a customer that was deleted in Stripe, once, however many requests notice at the same time.
/// </summary>
public sealed partial class CustomerResolver(
    IDbContextFactory<AppDbContext> databases,
    IStripeGateway stripe,
    CustomerCache cache,
    IOptions<CustomersOptions> options,
    TimeProvider time,
    ILogger<CustomerResolver> logger) : ICustomerResolver
{
    // Striped per-user locks: a user's concurrent first requests in this instance wait for one creation instead of
    // each asking the database lock (and Stripe). A fixed set of stripes keeps memory bounded; two users sharing a
    // stripe only wait for each other's first request.
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    private readonly CustomerKind _newUsersKind = options.Value.Kind;

    public async ValueTask<CustomerRef> ResolveAsync(CustomerOwner owner, CancellationToken cancellationToken)
    {
        if (cache.TryGet(owner.Key, out var cached))
        {
            return cached;
        }

        if (await FindAsync(owner, cancellationToken) is { } stored)
        {
            cache.Set(owner.Key, stored);
            return stored;
        }

        return await CreateOnceAsync(owner, replacing: null, cancellationToken);
    }

    public Task<CustomerRef> ReplaceMissingAsync(CustomerOwner owner, string missingCustomerId, CancellationToken cancellationToken)
    {
        cache.Remove(owner.Key);
        return CreateOnceAsync(owner, replacing: missingCustomerId, cancellationToken);
    }

    private async Task<CustomerRef> CreateOnceAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
        var gate = _stripes[(uint)StringComparer.Ordinal.GetHashCode(owner.Key) % (uint)_stripes.Length];
        await gate.WaitAsync(cancellationToken);
        try
        {
            // The whole step may run again on a fresh connection if PostgreSQL drops one (a restart, a failover);
            // that is safe because Stripe answers a repeated creation with the same customer (same idempotency key).
            await using var strategyContext = await databases.CreateDbContextAsync(cancellationToken);
            return await strategyContext.Database.CreateExecutionStrategy().ExecuteAsync(
                (owner, replacing), (_, state, token) => CreateOnceUnderLockAsync(state.owner, state.replacing, token), null, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<CustomerRef> CreateOnceUnderLockAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        // Across instances (PostgreSQL): an advisory lock on the user, held until this transaction ends.
        // Whoever gets it second re-reads below and finds the first one's customer.
        await using var transaction = await db.LockAsync(owner.Key, cancellationToken);
        var link = await db.CustomerLinks.SingleOrDefaultAsync(l => l.Issuer == owner.Issuer && l.UserId == owner.UserId, cancellationToken);
        if (link is not null && link.CustomerId != replacing)
        {
            var known = new CustomerRef(link.CustomerId, link.Kind);
            cache.Set(owner.Key, known);
            return known;
        }

        // New users, and replacements, get the configured kind; everyone else keeps what the map says.
        var customer = await stripe.CreateCustomerAsync(owner, replacing, _newUsersKind, cancellationToken);
        var now = time.GetUtcNow();
        if (link is null)
        {
            db.CustomerLinks.Add(new CustomerLink
            {
                Issuer = owner.Issuer, UserId = owner.UserId, CustomerId = customer.Id, Kind = customer.Kind, CreatedAt = now, UpdatedAt = now,
            });
        }
        else
        {
            LogReplaced(logger, replacing, owner.UserId, customer.Id);
            link.CustomerId = customer.Id;
            link.Kind = customer.Kind;
            link.UpdatedAt = now;
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException) when (transaction is null)
        {
            // Without a database lock (SQLite), a second writer of the same user — another process on the same
            // file — loses on the primary key; the row it lost to is the answer.
            var winner = await FindAsync(owner, cancellationToken);
            if (winner is not { } won)
            {
                throw;
            }

            cache.Set(owner.Key, won);
            return won;
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        cache.Set(owner.Key, customer);
        return customer;
    }

    private async Task<CustomerRef?> FindAsync(CustomerOwner owner, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.CustomerLinks.AsNoTracking()
            .Where(l => l.Issuer == owner.Issuer && l.UserId == owner.UserId)
            .Select(l => (CustomerRef?)new CustomerRef(l.CustomerId, l.Kind))
            .FirstOrDefaultAsync(cancellationToken);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Customer {MissingCustomerId} of user {UserId} is gone from Stripe; replaced by {CustomerId}")]
    private static partial void LogReplaced(ILogger logger, string? missingCustomerId, string userId, string customerId);
}
