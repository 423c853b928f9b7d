using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// Settles customer creations whose outcome Stripe left unknown, so no user keeps two live customers: those that
/// ended in a 5xx Stripe keeps (once Stripe's search can show what they made: <see cref="StripeOptions.SearchLag"/>),
/// and those still open after <see cref="OpenFor"/> (the user never came back to send them again). Every instance
/// does this; the user's lock and the row itself make each attempt settle once.
/// </summary>
public sealed partial class CustomerCreationSettler(
    IDbContextFactory<AppDbContext> databases, CustomerResolver resolver, IOptions<CustomersOptions> options, IOptions<StripeOptions> stripe,
    TimeProvider time, ILogger<CustomerCreationSettler> logger) : BackgroundService
{
    /// <summary>An attempt open this long is settled by search instead of waiting for its user.</summary>
    public static readonly TimeSpan OpenFor = TimeSpan.FromHours(1);

    /// <summary>At most this many attempts a round: settling spends Stripe calls, which sessions need more.</summary>
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
                LogFailed(logger, e.GetBaseException().Message);
            }
        }
    }

    /// <summary>One round: the attempts due, oldest first.</summary>
    public async Task<int> SettleDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var searchable = now - stripe.Value.SearchLag;
        var abandoned = now - OpenFor;
        List<string> due;
        await using (var db = await databases.CreateDbContextAsync(cancellationToken))
        {
            due = await db.Set<CustomerCreationAttempt>().AsNoTracking()
                .Where(a => (a.State == CreationState.Unsettled && a.UpdatedAt <= searchable) || (a.State == CreationState.Pending && a.UpdatedAt <= abandoned))
                .OrderBy(a => a.UpdatedAt)
                .Select(a => a.IdempotencyKey)
                .Take(PerRound)
                .ToListAsync(cancellationToken);
        }

        foreach (var key in due)
        {
            await resolver.SettleAsync(key, cancellationToken);
        }

        return due.Count;
    }

    [LoggerMessage(EventId = 3203, Level = LogLevel.Warning, Message = "Could not settle customer creations (tried again shortly): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
