using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// Settles customer creations whose outcome Stripe left unknown, so no user keeps two live customers: those that
/// ended in a failure Stripe keeps for the key (once its search can show what they made), and those still open after
/// <see cref="OpenFor"/> (the user never came back to send them again). One search per user settles all of the user's
/// attempts: a customer one of them made is kept when the user has none, and deleted otherwise. A search that finds
/// nothing is tried again until <see cref="GiveUpAfter"/> search lags have passed (Stripe's "less than a minute" is
/// a promise about usual times). Every instance settles; the user's locks make each attempt settle once.
/// </summary>
public sealed partial class CustomerCreationSettler(
    IDbContextFactory<AppDbContext> databases,
    UserLocks locks,
    CustomerResolver resolver,
    IStripeGateway stripe,
    CustomerCache cache,
    IOptions<CustomersOptions> options,
    IOptions<StripeOptions> stripeOptions,
    TimeProvider time,
    ILogger<CustomerCreationSettler> logger) : BackgroundService
{
    /// <summary>An attempt open this long is settled by search instead of waiting for its user.</summary>
    public static readonly TimeSpan OpenFor = TimeSpan.FromHours(1);

    /// <summary>How many search lags an unsettled attempt is looked for before it is let go.</summary>
    public const int GiveUpAfter = 10;

    /// <summary>At most this many users a round: settling spends Stripe calls, which sessions need more.</summary>
    private const int PerRound = 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SettleInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                using var unobserved = Telemetry.Unobserved();
                await SettleDueAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, Reason(e));
            }
        }
    }

    /// <summary>One round: the users with attempts due, the longest due first; returns how many users were settled.</summary>
    public async Task<int> SettleDueAsync(CancellationToken cancellationToken)
    {
        List<(string Issuer, string UserId)> users;
        await using (var db = await databases.CreateDbContextAsync(cancellationToken))
        {
            users = (await Due(db.Set<CustomerCreationAttempt>().AsNoTracking(), time.GetUtcNow().UtcDateTime)
                .GroupBy(a => new { a.Issuer, a.UserId })
                .Select(g => new { g.Key.Issuer, g.Key.UserId, Since = g.Min(a => a.UpdatedAt) })
                .OrderBy(u => u.Since)
                .Take(PerRound)
                .ToListAsync(cancellationToken)).Select(u => (u.Issuer, u.UserId)).ToList();
        }

        var settled = 0;
        foreach (var (issuer, userId) in users)
        {
            try
            {
                await locks.RunAsync(CustomerOwner.KeyOf(issuer, userId), (issuer, userId), (db, transaction, user, token) =>
                    SettleUnderLockAsync(db, transaction, user.issuer, user.userId, token), cancellationToken);
                cache.Remove(CustomerOwner.KeyOf(issuer, userId));
                settled++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // This user's attempts wait a search lag; the round goes on with the next user.
                LogUserFailed(logger, userId, Reason(e));
                await PostponeAsync(issuer, userId, cancellationToken);
            }
        }

        return settled;
    }

    /// <summary>
    /// The attempts due: unsettled ones whose time has come; v1 ones open for <see cref="OpenFor"/>; Account v2 ones
    /// (not searchable) only once Stripe no longer holds their key.
    /// </summary>
    private static IQueryable<CustomerCreationAttempt> Due(IQueryable<CustomerCreationAttempt> attempts, DateTime now)
    {
        var abandoned = now - OpenFor;
        var accountKeyGone = now - CustomerCreations.V2KeyLife;
        return attempts.Where(a =>
            (a.State == CreationState.Unsettled && a.SettleAfter <= now)
            || (a.State == CreationState.Pending && a.Kind == CustomerKind.Customer && a.UpdatedAt <= abandoned)
            || (a.State == CreationState.Pending && a.Kind == CustomerKind.Account && a.StartedAt <= accountKeyGone));
    }

    private async Task<int> SettleUnderLockAsync(AppDbContext db, IDbContextTransaction? transaction, string issuer, string userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var attempts = await Due(db.Set<CustomerCreationAttempt>().Where(a => a.Issuer == issuer && a.UserId == userId), now).ToListAsync(cancellationToken);
        if (attempts.Count == 0)
        {
            return 0; // settled meanwhile, here or on another instance
        }

        foreach (var account in attempts.Where(a => a.Kind == CustomerKind.Account))
        {
            LogAccountAttemptLetGo(logger, userId);
            db.Remove(account);
        }

        var customers = attempts.Where(a => a.Kind == CustomerKind.Customer).ToDictionary(a => a.IdempotencyKey);
        if (customers.Count > 0)
        {
            var link = await db.CustomerLinks.SingleOrDefaultAsync(l => l.Issuer == issuer && l.UserId == userId, cancellationToken);
            var made = (await stripe.FindCustomersOfAsync(issuer, userId, cancellationToken))
                .Where(c => c.CreationKey is not null && customers.ContainsKey(c.CreationKey))
                .ToList();
            foreach (var customer in made)
            {
                var attempt = customers[customer.CreationKey!];
                if (link is { IsForgotten: false } && link.CustomerId == customer.Id)
                {
                    continue; // the user's own: made by the attempt whose answer was lost, and already adopted
                }

                if (link is null || (link.IsForgotten && attempt.Replacing == link.CustomerId))
                {
                    await resolver.PointAsync(db, link, issuer, userId, new CustomerRef(customer.Id, CustomerKind.Customer), mayLoseRace: transaction is null,
                        cancellationToken);
                    link = await db.CustomerLinks.AsNoTracking().SingleAsync(l => l.Issuer == issuer && l.UserId == userId, cancellationToken);
                    LogKept(logger, customer.Id, userId);
                    continue;
                }

                await stripe.DeleteCustomerAsync(customer.Id, cancellationToken);
                LogDeletedSecond(logger, customer.Id, userId);
            }

            var found = made.Select(c => c.CreationKey).ToHashSet();
            foreach (var attempt in customers.Values)
            {
                if (!found.Contains(attempt.IdempotencyKey) && attempt.State == CreationState.Unsettled
                    && now - attempt.UpdatedAt < GiveUpAfter * stripeOptions.Value.SearchLag)
                {
                    attempt.SettleAfter = now + stripeOptions.Value.SearchLag; // not in search yet, perhaps: again later
                    continue;
                }

                db.Remove(attempt);
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return attempts.Count;
    }

    private async Task PostponeAsync(string issuer, string userId, CancellationToken cancellationToken)
    {
        var later = time.GetUtcNow().UtcDateTime + stripeOptions.Value.SearchLag;
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await db.Set<CustomerCreationAttempt>().Where(a => a.Issuer == issuer && a.UserId == userId && a.State == CreationState.Unsettled)
            .ExecuteUpdateAsync(set => set.SetProperty(a => a.SettleAfter, later), cancellationToken);
    }

    /// <summary>What went wrong, fit for a log line: a Stripe failure by its problem (never Stripe's message, which can quote a key).</summary>
    private static string Reason(Exception e) =>
        PaymentProblems.Of(e) is { } problem ? problem.Name : e.GetType().Name;

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "Could not settle customer creations (tried again shortly): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Warning, Message = "Could not settle the customer creations of user {UserId} (tried again later): {Reason}")]
    private static partial void LogUserFailed(ILogger logger, string userId, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Customer {CustomerId}, made by a creation whose answer was a failure, is user {UserId}'s")]
    private static partial void LogKept(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning,
        Message = "Deleted customer {CustomerId}, made by a creation of user {UserId} whose answer was a failure: the user has another")]
    private static partial void LogDeletedSecond(ILogger logger, string customerId, string userId);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning,
        Message = "An Account v2 creation of user {UserId} had no answer for 29 days: let go (Stripe keeps v2 keys 30 days; search cannot find an account it made)")]
    private static partial void LogAccountAttemptLetGo(ILogger logger, string userId);
}
