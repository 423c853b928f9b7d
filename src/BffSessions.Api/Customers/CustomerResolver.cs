using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
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
    ServiceMetrics metrics,
    IOptions<CustomersOptions> options,
    TimeProvider time,
    ILogger<CustomerResolver> logger) : ICustomerResolver
{
    // Striped per-user locks: a user's concurrent first requests in this instance wait for one creation instead of
    // each asking the database lock (and Stripe). A fixed set of stripes keeps memory bounded; two users sharing a
    // stripe only wait for each other's first request.
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    private readonly CustomerKind _newUsersKind = options.Value.Kind;

    private readonly string? _legacyIssuer = options.Value.LegacyIssuer is { Length: > 0 } legacy ? legacy : null;

    public async ValueTask<CustomerRef> ResolveAsync(CustomerOwner owner, CancellationToken cancellationToken)
    {
        if (cache.TryGet(owner.Key, out var cached))
        {
            return cached;
        }

        var link = await FindAsync(owner, cancellationToken);
        if (link is { IsForgotten: false })
        {
            var stored = new CustomerRef(link.CustomerId, link.Kind);
            cache.Set(owner.Key, stored);
            return stored;
        }

        // A new user; or one whose customer Stripe told us is gone: replaced before any session call, so none fails.
        return await CreateOnceAsync(owner, replacing: link?.CustomerId, cancellationToken);
    }

    public Task<CustomerRef> ReplaceMissingAsync(CustomerOwner owner, string missingCustomerId, CancellationToken cancellationToken)
    {
        cache.Remove(owner.Key);
        return CreateOnceAsync(owner, replacing: missingCustomerId, cancellationToken);
    }

    private Task<CustomerRef> CreateOnceAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken) =>
        UnderUserLockAsync(owner.Key, (owner, replacing), (state, token) => CreateOnceUnderLockAsync(state.owner, state.replacing, token), cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> holding the user's lock in this process (a stripe of them), within the database's
    /// execution strategy: the whole step may run again on a fresh connection if PostgreSQL drops one (a restart, a
    /// failover). The work takes the database's own lock on the user (<see cref="AppDbContext.LockAsync"/>), and must
    /// be safe to repeat: creation is, because Stripe answers a repeated creation with the same customer.
    /// </summary>
    private async Task<T> UnderUserLockAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var gate = _stripes[(uint)StringComparer.Ordinal.GetHashCode(key) % (uint)_stripes.Length];
        await gate.WaitAsync(cancellationToken);
        try
        {
            await using var strategyContext = await databases.CreateDbContextAsync(cancellationToken);
            return await strategyContext.Database.CreateExecutionStrategy().ExecuteAsync(
                state, (_, s, token) => work(s, token), null, cancellationToken);
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
        var link = await db.CustomerLinks.SingleOrDefaultAsync(l => l.Issuer == owner.Issuer && l.UserId == owner.UserId, cancellationToken)
            ?? await AdoptFromBeforeIssuersAsync(db, owner, cancellationToken);
        if (link is not null && link.CustomerId != replacing && !link.IsForgotten)
        {
            var known = new CustomerRef(link.CustomerId, link.Kind);
            cache.Set(owner.Key, known);
            return known;
        }

        // New users, and replacements, get the configured kind; everyone else keeps what the map says. A replacement's
        // idempotency key names the customer it replaces, or Stripe would answer with the one that is gone.
        replacing ??= link?.CustomerId;
        var customer = await stripe.CreateCustomerAsync(owner, replacing, _newUsersKind, cancellationToken);
        metrics.CustomerCreated(customer.Kind == CustomerKind.Account ? "account" : "customer", replacing is null ? "new" : "replaced");
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
            if (await FindAsync(owner, cancellationToken) is not { } winner)
            {
                throw;
            }

            var won = new CustomerRef(winner.CustomerId, winner.Kind);
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

    /// <summary>
    /// Stripe says <paramref name="customerId"/>, a <paramref name="kind"/>, is gone (a customer deleted in the Dashboard,
    /// an account closed). The map lets go of exactly that id, under the same locks as creation: the user who has it
    /// gets a replacement at their next session. A user who already has another customer keeps it; an id the map does
    /// not hold (or holds as the other kind) changes nothing.
    /// </summary>
    /// <returns>Whether a user had that customer.</returns>
    public async Task<bool> ForgetAsync(string customerId, CustomerKind kind, CancellationToken cancellationToken)
    {
        List<(string Issuer, string UserId)> holders;
        await using (var db = await databases.CreateDbContextAsync(cancellationToken))
        {
            holders = (await db.CustomerLinks.AsNoTracking().Where(l => l.CustomerId == customerId && l.Kind == kind)
                .Select(l => new { l.Issuer, l.UserId }).ToListAsync(cancellationToken)).Select(h => (h.Issuer, h.UserId)).ToList();
        }

        var forgotten = false;
        foreach (var (issuer, userId) in holders)
        {
            var key = CustomerOwner.KeyOf(issuer, userId);
            forgotten |= await UnderUserLockAsync(key, (issuer, userId, customerId), (state, token) =>
                ForgetUnderLockAsync(state.issuer, state.userId, state.customerId, token), cancellationToken);
            cache.Remove(key);
        }

        return forgotten;
    }

    private async Task<bool> ForgetUnderLockAsync(string issuer, string userId, string customerId, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.LockAsync(CustomerOwner.KeyOf(issuer, userId), cancellationToken);
        var link = await db.CustomerLinks.SingleOrDefaultAsync(l => l.Issuer == issuer && l.UserId == userId, cancellationToken);
        if (link is null || link.CustomerId != customerId)
        {
            return false; // replaced meanwhile: the user's customer now is another, which the event is not about
        }

        var now = time.GetUtcNow();
        link.ForgottenCustomerId = customerId;
        link.ForgottenAt = now.UtcDateTime;
        link.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        LogForgotten(logger, customerId, userId);
        return true;
    }

    /// <summary>
    /// A user of the issuer this deployment trusted before users were keyed by issuer (Customers:LegacyIssuer) whose
    /// row is still the old one (issuer ""): the row becomes theirs, under their lock, so they keep their customer. Done
    /// at each such user's first request rather than all at once: it needs no start-up step that could run too early
    /// or fail on one row, and a LegacyIssuer corrected later still works for everyone not yet adopted.
    /// </summary>
    private async Task<CustomerLink?> AdoptFromBeforeIssuersAsync(AppDbContext db, CustomerOwner owner, CancellationToken cancellationToken)
    {
        if (owner.Issuer != _legacyIssuer
            || await db.CustomerLinks.Where(l => l.Issuer == "" && l.UserId == owner.UserId)
                .ExecuteUpdateAsync(set => set.SetProperty(l => l.Issuer, owner.Issuer), cancellationToken) == 0)
        {
            return null;
        }

        LogAdopted(logger, owner.UserId, owner.Issuer);
        return await db.CustomerLinks.SingleAsync(l => l.Issuer == owner.Issuer && l.UserId == owner.UserId, cancellationToken);
    }

    private async Task<CustomerLink?> FindAsync(CustomerOwner owner, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.CustomerLinks.AsNoTracking()
            .FirstOrDefaultAsync(l => l.Issuer == owner.Issuer && l.UserId == owner.UserId, cancellationToken);
    }

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "User {UserId} from before issuers were recorded keeps their customer, as a user of {Issuer}")]
    private static partial void LogAdopted(ILogger logger, string userId, string issuer);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Stripe says customer {CustomerId} of user {UserId} is gone: replaced at the user's next session")]
    private static partial void LogForgotten(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Customer {MissingCustomerId} of user {UserId} is gone from Stripe; replaced by {CustomerId}")]
    private static partial void LogReplaced(ILogger logger, string? missingCustomerId, string userId, string customerId);
}
