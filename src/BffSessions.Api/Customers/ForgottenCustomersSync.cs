using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using BffSessions.Hosting;

namespace BffSessions.Api.Customers;

/// <summary>
/// Every instance keeps customers in memory for <see cref="CustomersOptions.CacheDuration"/>. When Stripe tells any
/// instance that a customer is gone, the others learn it here within <see cref="CustomersOptions.ForgottenCheckInterval"/>:
/// they drop those users from memory, so their next session reads the map and gets a replacement first.
/// </summary>
/// <remarks>
/// Only where it can matter: with PostgreSQL (one SQLite instance drops the user from its only cache as it forgets)
/// and with webhooks on (nothing else forgets). Stamps are each instance's own clock: they must agree within
/// <see cref="Overlap"/>.
/// </remarks>
public sealed partial class ForgottenCustomersSync(
    IDbContextFactory<AppDbContext> databases, CustomerCache cache, IOptions<CustomersOptions> options, IOptions<DatabaseOptions> database,
    IOptions<StripeOptions> stripe, TimeProvider time, ILogger<ForgottenCustomersSync> logger) : BackgroundService
{
    /// <summary>
    /// Each look reaches this far back past the previous one: instances' clocks differ a little, and a forget is
    /// committed a moment after it is stamped. Dropping a user from memory twice costs one database read.
    /// </summary>
    private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.Value.Provider != DatabaseProvider.Postgres || stripe.Value.WebhookSecrets.Length == 0)
        {
            return;
        }

        var since = time.GetUtcNow().UtcDateTime - Overlap;
        using var timer = new PeriodicTimer(options.Value.ForgottenCheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var now = time.GetUtcNow().UtcDateTime;
                using var unobserved = Telemetry.Unobserved();
                await DropForgottenSinceAsync(since, stoppingToken);
                since = now - Overlap;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetBaseException().Message);
            }
        }
    }

    private async Task DropForgottenSinceAsync(DateTime since, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var users = await db.CustomerLinks.AsNoTracking().Where(l => l.ForgottenAt > since)
            .Select(l => new { l.Issuer, l.UserId }).ToListAsync(cancellationToken);
        foreach (var user in users)
        {
            cache.Remove(CustomerOwner.KeyOf(user.Issuer, user.UserId));
        }

        if (users.Count > 0)
        {
            LogDropped(logger, users.Count);
        }
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Debug, Message = "Dropped {Count} user(s) whose Stripe customer is gone from the memory cache")]
    private static partial void LogDropped(ILogger logger, int count);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Could not look for forgotten customers (tried again shortly): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
