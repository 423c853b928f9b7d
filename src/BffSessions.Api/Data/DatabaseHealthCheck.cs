using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BffSessions.Api.Data;

/// <summary>
/// Ready when the database answers and every migration has been applied. No connection details are reported. One
/// instance per process (a singleton): having seen the schema up to date, it takes that on trust for a minute and only
/// checks the connection meanwhile, so the readiness probe costs one round trip rather than the history table's query
/// and EF Core's migrations lookup every few seconds. A failed connection, or the minute's end, asks again: a database
/// restored from an older backup, or failed over to a copy without the newest schema, is not ready for long.
/// </summary>
public sealed partial class DatabaseHealthCheck(IDbContextFactory<AppDbContext> databases, TimeProvider time, ILogger<DatabaseHealthCheck> logger)
    : IHealthCheck
{
    private static readonly TimeSpan TrustFor = TimeSpan.FromMinutes(1);

    /// <summary>Until when the schema is taken to be up to date, in UTC ticks; 0 when it must be asked.</summary>
    private long _upToDateUntil;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                Volatile.Write(ref _upToDateUntil, 0);
                return HealthCheckResult.Unhealthy("The database is unreachable.");
            }

            var now = time.GetUtcNow();
            if (now.UtcTicks < Volatile.Read(ref _upToDateUntil))
            {
                return HealthCheckResult.Healthy("The database is reachable and up to date.");
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
            Volatile.Write(ref _upToDateUntil, pending == 0 ? (now + TrustFor).UtcTicks : 0);
            return pending == 0
                ? HealthCheckResult.Healthy("The database is reachable and up to date.")
                : HealthCheckResult.Unhealthy($"{pending} migration(s) not applied.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Volatile.Write(ref _upToDateUntil, 0);
            LogUnreachable(logger, e.GetBaseException().Message);
            return HealthCheckResult.Unhealthy("The database is unreachable.");
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "The database is unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
