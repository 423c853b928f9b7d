using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BffSessions.Api.Data;

/// <summary>
/// Ready when the database answers and every migration has been applied. No connection details are reported. One
/// instance per process (a singleton): once it has seen the schema up to date it only checks the connection, since the
/// migrations this build knows are applied for good; the readiness probe then costs one round trip, not the history
/// table's query and EF Core's migrations lookup every few seconds.
/// </summary>
public sealed partial class DatabaseHealthCheck(IDbContextFactory<AppDbContext> databases, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    private volatile bool _upToDate;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy("The database is unreachable.");
            }

            var pending = _upToDate ? 0 : (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
            _upToDate = pending == 0;
            return pending == 0
                ? HealthCheckResult.Healthy("The database is reachable and up to date.")
                : HealthCheckResult.Unhealthy($"{pending} migration(s) not applied.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnreachable(logger, e.GetBaseException().Message);
            return HealthCheckResult.Unhealthy("The database is unreachable.");
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "The database is unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
