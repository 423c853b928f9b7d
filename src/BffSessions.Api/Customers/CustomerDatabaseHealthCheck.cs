using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BffSessions.Api.Customers;

/// <summary>Ready when the customer database answers and every migration has been applied. No connection details are reported.</summary>
public sealed class CustomerDatabaseHealthCheck(IDbContextFactory<CustomersDbContext> databases, ILogger<CustomerDatabaseHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy("The customer database is unreachable.");
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
            return pending == 0
                ? HealthCheckResult.Healthy("The customer database is reachable and up to date.")
                : HealthCheckResult.Unhealthy($"{pending} migration(s) not applied.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("The customer database is unreachable: {Reason}", e.GetBaseException().Message);
            return HealthCheckResult.Unhealthy("The customer database is unreachable.");
        }
    }
}
