using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// Users are keyed by issuer and subject. Rows from before that (issuer "") keep their customers: at start, they are
/// given the issuer this deployment trusted then (<see cref="CustomersOptions.LegacyIssuer"/>). Idempotent, so every
/// instance may run it; a database that is down at start is tried again at the next start.
/// </summary>
public sealed partial class LegacyIssuerAssignment(
    IDbContextFactory<AppDbContext> databases, IOptions<CustomersOptions> options, ILogger<LegacyIssuerAssignment> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            var legacy = db.CustomerLinks.Where(l => l.Issuer == "");
            if (!await legacy.AnyAsync(cancellationToken))
            {
                return;
            }

            if (options.Value.LegacyIssuer is not { Length: > 0 } issuer)
            {
                LogNoIssuer(logger, await legacy.CountAsync(cancellationToken));
                return;
            }

            var assigned = await legacy.ExecuteUpdateAsync(set => set.SetProperty(l => l.Issuer, issuer), cancellationToken);
            LogAssigned(logger, assigned, issuer);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            LogFailed(logger, e.GetBaseException().Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Assigned {Count} users from before issuers were recorded to issuer {Issuer}")]
    private static partial void LogAssigned(ILogger logger, int count, string issuer);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error,
        Message = "{Count} users in customer_links have no issuer, and none is configured: set Customers:LegacyIssuer to the iss of the tokens they signed in with, or they will get new Stripe customers")]
    private static partial void LogNoIssuer(ILogger logger, int count);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Could not assign an issuer to users from before issuers were recorded (tried again at the next start): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
