using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// Says at start how many users the map holds from before it recorded issuers (issuer ""), and which issuer adopts
/// them at their next request (<see cref="CustomersOptions.LegacyIssuer"/>; CustomerResolver does it, under each user's
/// lock). It changes nothing itself; a database that is not there yet, or not migrated yet, is not its concern. A
/// background service, so that its query (the first to build EF Core's model) runs beside start-up, not before the
/// service listens.
/// </summary>
public sealed partial class LegacyIssuerReport(
    IDbContextFactory<AppDbContext> databases, IOptions<CustomersOptions> options, ILogger<LegacyIssuerReport> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using var db = await databases.CreateDbContextAsync(stoppingToken);
            var legacy = await db.CustomerLinks.CountAsync(l => l.Issuer == "", stoppingToken);
            if (legacy == 0)
            {
                return;
            }

            if (options.Value.LegacyIssuer is { Length: > 0 } issuer)
            {
                LogWaiting(logger, legacy, issuer);
            }
            else
            {
                LogNoIssuer(logger, legacy);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnknown(logger, e.GetBaseException().Message);
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information,
        Message = "{Count} users from before issuers were recorded keep their customers when they next sign in with issuer {Issuer}")]
    private static partial void LogWaiting(ILogger logger, int count, string issuer);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error,
        Message = "{Count} users in customer_links have no issuer, and none is configured: set Customers:LegacyIssuer to the iss of the tokens they signed in with, or they will get new Stripe customers")]
    private static partial void LogNoIssuer(ILogger logger, int count);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Could not count the users from before issuers were recorded: {Reason}")]
    private static partial void LogUnknown(ILogger logger, string reason);
}
