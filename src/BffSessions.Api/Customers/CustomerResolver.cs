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
    IOptions<StripeOptions> stripeOptions,
    TimeProvider time,
    ILogger<CustomerResolver> logger) : ICustomerResolver
{
    /// <summary>
    /// A v1 attempt older than this is not sent again: Stripe prunes keys after at least 24 hours, and a pruned key
    /// would make a second customer where the lost call made one. It is settled by search instead.
    /// </summary>
    private static readonly TimeSpan V1KeyLife = TimeSpan.FromHours(23);

    /// <summary>API v2 keeps keys for 30 days.</summary>
    private static readonly TimeSpan V2KeyLife = TimeSpan.FromDays(29);

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
    /// be safe to repeat: creation is, because the attempt recorded before the call is sent again with its own key, and
    /// Stripe answers it with the customer it made.
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

        // New users, and replacements, get the configured kind; everyone else keeps what the map says.
        replacing ??= link?.CustomerId;
        var (customer, key) = await CreateAsync(owner, replacing, cancellationToken);
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
            // file — loses on the primary key; the row it lost to is the answer, and the customer this attempt made
            // is nobody's: the settler deletes it once search shows it.
            if (await FindAsync(owner, cancellationToken) is not { } winner)
            {
                throw;
            }

            await MarkUnsettledAsync(key, cancellationToken);
            var won = new CustomerRef(winner.CustomerId, winner.Kind);
            cache.Set(owner.Key, won);
            return won;
        }

        // After the map holds the customer (in the same transaction where there is one): a crash in between leaves
        // an attempt whose customer the map already has, which settling keeps.
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key).ExecuteDeleteAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        cache.Set(owner.Key, customer);
        return customer;
    }

    /// <summary>
    /// Creates the user's customer in Stripe, exactly once. The attempt is recorded before each call; an open one
    /// (its answer lost) is sent again with the same key and values, so Stripe answers with what it made. A failure
    /// Stripe keeps for the key spends it: the attempt is left for settling and a new one starts, as often as
    /// Stripe.net would retry and within Stripe:Timeout, so one 500 costs the user this request at most. A name or
    /// email Stripe refuses is left out of the next attempt.
    /// </summary>
    private async Task<(CustomerRef Customer, string Key)> CreateAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
        var creation = await OpenAttemptAsync(owner, replacing, cancellationToken)
            ?? await RecordAsync(CustomerCreation.Start(owner, _newUsersKind, replacing), cancellationToken);
        var started = time.GetTimestamp();
        for (var retry = 0; ; retry++)
        {
            var another = retry < stripeOptions.Value.MaxNetworkRetries && time.GetElapsedTime(started) < stripeOptions.Value.Timeout;
            try
            {
                return (await stripe.CreateCustomerAsync(creation, cancellationToken), creation.Key);
            }
            catch (StripeKeySpentException)
            {
                await MarkUnsettledAsync(creation.Key, cancellationToken);
                LogKeySpent(logger, owner.UserId);
                if (!another)
                {
                    throw;
                }

                await Task.Delay(StripeFailures.RetryDelay(retry), time, cancellationToken);
                creation = await RecordAsync(creation.Again(), cancellationToken);
            }
            catch (StripeValueRefusedException refused)
            {
                // Stripe stored nothing and made nothing: the attempt is simply gone.
                await ForgetAttemptAsync(creation.Key, cancellationToken);
                LogValueRefused(logger, refused.Field, owner.UserId);
                if (!another)
                {
                    throw;
                }

                creation = await RecordAsync(creation.Without(refused.Field), cancellationToken);
            }
        }
    }

    /// <summary>
    /// The user's open attempt, when it is still one to send again: of the kind and for the replacement asked now,
    /// and young enough that Stripe still holds its key. Any other open attempt is left for settling.
    /// </summary>
    private async Task<CustomerCreation?> OpenAttemptAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var open = await db.Set<CustomerCreationAttempt>().AsNoTracking()
            .Where(a => a.Issuer == owner.Issuer && a.UserId == owner.UserId && a.State == CreationState.Pending)
            .ToListAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        var usable = open.Where(a => a.Kind == _newUsersKind && a.Replacing == replacing
                && now - a.StartedAt < (a.Kind == CustomerKind.Account ? V2KeyLife : V1KeyLife))
            .MaxBy(a => a.StartedAt);
        foreach (var stale in open.Where(a => a != usable))
        {
            await MarkUnsettledAsync(stale.IdempotencyKey, cancellationToken);
        }

        return usable?.ToCreation();
    }

    /// <summary>Records <paramref name="creation"/>, committed on its own before Stripe is called, whatever transaction the caller holds.</summary>
    private async Task<CustomerCreation> RecordAsync(CustomerCreation creation, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.Add(CustomerCreationAttempt.Of(creation, time.GetUtcNow().UtcDateTime));
        await db.SaveChangesAsync(cancellationToken);
        return creation;
    }

    private async Task MarkUnsettledAsync(string key, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.State, CreationState.Unsettled).SetProperty(a => a.UpdatedAt, now), cancellationToken);
    }

    private async Task ForgetAttemptAsync(string key, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>
    /// Settles the attempt keyed <paramref name="key"/>, whose outcome Stripe left unknown: the customers it made, as
    /// search shows them, are kept when the user has none (the user's map entry points at it) and deleted otherwise,
    /// so no user keeps two live customers. Under the user's locks, as creation. An Account v2 attempt (no search in
    /// v2) is let go only once Stripe no longer holds its key.
    /// </summary>
    public async Task SettleAsync(string key, CancellationToken cancellationToken)
    {
        CustomerCreationAttempt? attempt;
        await using (var db = await databases.CreateDbContextAsync(cancellationToken))
        {
            attempt = await db.Set<CustomerCreationAttempt>().AsNoTracking().SingleOrDefaultAsync(a => a.IdempotencyKey == key, cancellationToken);
        }

        if (attempt is null)
        {
            return;
        }

        var owner = CustomerOwner.KeyOf(attempt.Issuer, attempt.UserId);
        await UnderUserLockAsync(owner, attempt, async (attempt, token) =>
        {
            await using var db = await databases.CreateDbContextAsync(token);
            await using var transaction = await db.LockAsync(owner, token);
            if (!await db.Set<CustomerCreationAttempt>().AnyAsync(a => a.IdempotencyKey == attempt.IdempotencyKey, token))
            {
                return 0; // settled meanwhile, here or on another instance
            }

            if (attempt.Kind == CustomerKind.Account)
            {
                if (time.GetUtcNow().UtcDateTime - attempt.StartedAt < V2KeyLife)
                {
                    return 0;
                }

                LogAccountAttemptAbandoned(logger, attempt.UserId);
            }
            else
            {
                var link = await db.CustomerLinks.SingleOrDefaultAsync(l => l.Issuer == attempt.Issuer && l.UserId == attempt.UserId, token);
                foreach (var made in await stripe.FindCustomersMadeByAsync(attempt.IdempotencyKey, token))
                {
                    if (link is not null && link.CustomerId == made)
                    {
                        continue;
                    }

                    if (link is null || (link.IsForgotten && link.CustomerId == attempt.Replacing))
                    {
                        link = Adopt(db, link, attempt, made);
                        LogAdoptedLost(logger, made, attempt.UserId);
                        continue;
                    }

                    await stripe.DeleteCustomerAsync(made, token);
                    LogDeletedSecond(logger, made, attempt.UserId);
                }
            }

            await db.SaveChangesAsync(token);
            await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == attempt.IdempotencyKey).ExecuteDeleteAsync(token);
            if (transaction is not null)
            {
                await transaction.CommitAsync(token);
            }

            cache.Remove(owner);
            return 0;
        }, cancellationToken);
    }

    private CustomerLink Adopt(AppDbContext db, CustomerLink? link, CustomerCreationAttempt attempt, string customerId)
    {
        var now = time.GetUtcNow();
        if (link is null)
        {
            link = new CustomerLink
            {
                Issuer = attempt.Issuer, UserId = attempt.UserId, CustomerId = customerId, Kind = CustomerKind.Customer, CreatedAt = now, UpdatedAt = now,
            };
            db.CustomerLinks.Add(link);
            return link;
        }

        link.CustomerId = customerId;
        link.Kind = CustomerKind.Customer;
        link.UpdatedAt = now;
        return link;
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

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "Stripe answered a 5xx it keeps for the customer creation of user {UserId}: a new attempt under a new key, and the spent one is settled by search")]
    private static partial void LogKeySpent(ILogger logger, string userId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Stripe refused the {Field} of user {UserId}: the customer is created without it")]
    private static partial void LogValueRefused(ILogger logger, CustomerField field, string userId);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Customer {CustomerId}, made by a creation whose answer was a failure, is user {UserId}'s")]
    private static partial void LogAdoptedLost(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning,
        Message = "Deleted customer {CustomerId}, made by a creation of user {UserId} whose answer was a failure: the user has another")]
    private static partial void LogDeletedSecond(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning,
        Message = "An Account v2 creation of user {UserId} had no answer for 29 days: let go (Stripe keeps v2 keys 30 days; an account it made is not found by search)")]
    private static partial void LogAccountAttemptAbandoned(ILogger logger, string userId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "User {UserId} from before issuers were recorded keeps their customer, as a user of {Issuer}")]
    private static partial void LogAdopted(ILogger logger, string userId, string issuer);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Stripe says customer {CustomerId} of user {UserId} is gone: replaced at the user's next session")]
    private static partial void LogForgotten(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Customer {MissingCustomerId} of user {UserId} is gone from Stripe; replaced by {CustomerId}")]
    private static partial void LogReplaced(ILogger logger, string? missingCustomerId, string userId, string customerId);
}
