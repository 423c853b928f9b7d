using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
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
    UserLocks locks,
    CustomerCreations creations,
    IStripeGateway stripe,
    CustomerCache cache,
    CustomerMetrics metrics,
    IOptions<CustomersOptions> options,
    IOptions<StripeOptions> stripeOptions,
    TimeProvider time,
    ILogger<CustomerResolver> logger) : ICustomerResolver
{
    private readonly CustomerKind _newUsersKind = options.Value.Kind;

    private readonly string? _legacyIssuer = options.Value.LegacyIssuer is { Length: > 0 } legacy ? legacy : null;

    public async ValueTask<CustomerRef> ResolveAsync(CustomerOwner owner, CancellationToken cancellationToken)
    {
        if (cache.TryGet(owner.Key, out var cached))
        {
            return cached;
        }

        var link = await FindAsync(owner.Issuer, owner.UserId, cancellationToken);
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

    /// <summary>
    /// Under the user's locks: whoever gets them second re-reads the map and finds the first one's customer. Safe to
    /// repeat (the execution strategy may): the attempt recorded before the call is sent again under its own key, and
    /// Stripe answers it with the customer it made.
    /// </summary>
    private Task<CustomerRef> CreateOnceAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken) =>
        locks.RunAsync(owner.Key, (owner, replacing), (db, transaction, state, token) => CreateOnceUnderLockAsync(db, transaction, state.owner, state.replacing, token),
            cancellationToken);

    private async Task<CustomerRef> CreateOnceUnderLockAsync(
        AppDbContext db, IDbContextTransaction? transaction, CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
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
        metrics.Created(customer.Kind == CustomerKind.Account ? "account" : "customer", replacing is null ? "new" : "replaced");
        if (link is not null)
        {
            LogReplaced(logger, replacing, owner.UserId, customer.Id);
        }

        if (!await PointAsync(db, link, owner.Issuer, owner.UserId, customer, mayLoseRace: transaction is null, cancellationToken))
        {
            // Without a database lock (SQLite), another process on the same file wrote this user first; the customer
            // it wrote is the answer, and the one this attempt made is nobody's: settled (deleted) once search shows it.
            await creations.UnsettledAsync(key, cancellationToken);
            var winner = await FindAsync(owner.Issuer, owner.UserId, cancellationToken)
                ?? throw new InvalidOperationException("The user's map entry changed and then disappeared.");
            var won = new CustomerRef(winner.CustomerId, winner.Kind);
            cache.Set(owner.Key, won);
            return won;
        }

        // After the map holds the customer (in the same transaction where there is one): a crash in between leaves an
        // attempt whose customer the map already has, which settling keeps.
        await db.Set<CustomerCreationAttempt>().Where(a => a.IdempotencyKey == key).ExecuteDeleteAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        cache.Set(owner.Key, customer);
        return customer;
    }

    /// <summary>
    /// Points the user's map entry at <paramref name="customer"/>: a new row, or the one read under the lock, changed
    /// only if it still names the customer it named then. False when another writer got there first, which
    /// <paramref name="mayLoseRace"/> says is possible: only without the database's lock (SQLite, several processes).
    /// </summary>
    internal async Task<bool> PointAsync(AppDbContext db, CustomerLink? link, string issuer, string userId, CustomerRef customer, bool mayLoseRace,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (link is null)
        {
            db.CustomerLinks.Add(new CustomerLink
            {
                Issuer = issuer, UserId = userId, CustomerId = customer.Id, Kind = customer.Kind, CreatedAt = now, UpdatedAt = now,
            });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return true;
            }
            catch (DbUpdateException) when (mayLoseRace)
            {
                // The user's key is the primary key: the row another writer added first stands.
                db.ChangeTracker.Clear();
                return false;
            }
        }

        var previous = link.CustomerId;
        var changed = await db.CustomerLinks
            .Where(l => l.Issuer == issuer && l.UserId == userId && l.CustomerId == previous)
            .ExecuteUpdateAsync(set => set
                .SetProperty(l => l.CustomerId, customer.Id)
                .SetProperty(l => l.Kind, customer.Kind)
                .SetProperty(l => l.UpdatedAt, now), cancellationToken) == 1;
        if (!changed && !mayLoseRace)
        {
            throw new InvalidOperationException("The user's map entry changed while the database's lock on the user was held.");
        }

        return changed;
    }

    /// <summary>
    /// Creates the user's customer in Stripe, exactly once. The attempt is recorded before each call; an open one
    /// (its answer lost) is sent again with the same key and values, so Stripe answers with what it made. A failure
    /// Stripe keeps for the key spends it: the attempt is left for settling and a new one starts, as often as
    /// Stripe.net would retry, within the request's <see cref="StripeOptions.Timeout"/> (the gateway ends it there), so
    /// a 500 costs the user this request at most. A name or email Stripe refuses is left out of the next attempt,
    /// once each, whatever the retries.
    /// </summary>
    private async Task<(CustomerRef Customer, string Key)> CreateAsync(CustomerOwner owner, string? replacing, CancellationToken cancellationToken)
    {
        var creation = await creations.OpenAsync(owner, _newUsersKind, replacing, cancellationToken)
            ?? await creations.RecordAsync(CustomerCreation.Start(owner, _newUsersKind, replacing), cancellationToken);
        for (var spent = 0; ;)
        {
            try
            {
                return (await stripe.CreateCustomerAsync(creation, cancellationToken), creation.Key);
            }
            catch (StripeKeySpentException)
            {
                await creations.UnsettledAsync(creation.Key, cancellationToken);
                LogKeySpent(logger, owner.UserId);
                if (++spent > stripeOptions.Value.MaxNetworkRetries)
                {
                    throw;
                }

                await Task.Delay(StripeFailures.RetryDelay(spent - 1), time, cancellationToken);
                creation = await creations.RecordAsync(creation.Again(), cancellationToken);
            }
            catch (StripeValueRefusedException refused) when (creation.Has(refused.Field))
            {
                // Stripe stored nothing and made nothing: the attempt is simply gone. Each field is left out once at
                // most, so this ends.
                await creations.ForgetAsync(creation.Key, cancellationToken);
                LogValueRefused(logger, refused.Field, owner.UserId);
                creation = await creations.RecordAsync(creation.Without(refused.Field), cancellationToken);
            }
        }
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
            forgotten |= await locks.RunAsync(key, (issuer, userId, customerId), (db, transaction, state, token) =>
                ForgetUnderLockAsync(db, transaction, state.issuer, state.userId, state.customerId, token), cancellationToken);
            cache.Remove(key);
        }

        return forgotten;
    }

    private async Task<bool> ForgetUnderLockAsync(
        AppDbContext db, IDbContextTransaction? transaction, string issuer, string userId, string customerId, CancellationToken cancellationToken)
    {
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

    private async Task<CustomerLink?> FindAsync(string issuer, string userId, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.CustomerLinks.AsNoTracking().FirstOrDefaultAsync(l => l.Issuer == issuer && l.UserId == userId, cancellationToken);
    }

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "Stripe answered a 5xx it keeps for the customer creation of user {UserId}: a new attempt under a new key, and the spent one is settled by search")]
    private static partial void LogKeySpent(ILogger logger, string userId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Stripe refused the {Field} of user {UserId}: the customer is created without it")]
    private static partial void LogValueRefused(ILogger logger, CustomerField field, string userId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "User {UserId} from before issuers were recorded keeps their customer, as a user of {Issuer}")]
    private static partial void LogAdopted(ILogger logger, string userId, string issuer);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Stripe says customer {CustomerId} of user {UserId} is gone: replaced at the user's next session")]
    private static partial void LogForgotten(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Customer {MissingCustomerId} of user {UserId} is gone from Stripe; replaced by {CustomerId}")]
    private static partial void LogReplaced(ILogger logger, string? missingCustomerId, string userId, string customerId);
}
