using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using BffSessions.Hosting;

namespace BffSessions.Api.Identity;

/// <summary>
/// Deletes expired sessions in the background, in bounded batches, and the logout tokens no instance would take any
/// more, on every instance (deleting twice is harmless).
/// </summary>
public sealed partial class ExpiredSessionCleanup(
    IDbContextFactory<AppDbContext> databases, SeenLogoutTokens logoutTokens, IOptions<BffOptions> options, TimeProvider time,
    ILogger<ExpiredSessionCleanup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SessionCleanupInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                using var unobserved = Telemetry.Unobserved();
                await DeleteExpiredAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetBaseException().Message);
            }

            try
            {
                using var unobserved = Telemetry.Unobserved();
                if (await logoutTokens.ForgetOldAsync(stoppingToken) is > 0 and var forgotten)
                {
                    LogForgotten(logger, forgotten);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogForgetFailed(logger, e.GetBaseException().Message);
            }
        }
    }

    /// <summary>One pass: batch after batch until a batch comes back short. Returns how many rows were deleted.</summary>
    public async Task<int> DeleteExpiredAsync(CancellationToken cancellationToken)
    {
        var batch = options.Value.SessionCleanupBatch;
        var total = 0;
        int deleted;
        do
        {
            var now = time.GetUtcNow().UtcDateTime;
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            // Select, then delete by key: portable across SQLite and PostgreSQL, and each statement touches one batch.
            var expired = await db.BrowserSessions.Where(s => s.ExpiresAt <= now).OrderBy(s => s.ExpiresAt)
                .Select(s => s.KeyHash).Take(batch).ToListAsync(cancellationToken);
            // The expiry is checked again: a session renewed between the two statements is not expired any more.
            deleted = expired.Count == 0 ? 0
                : await db.BrowserSessions.Where(s => expired.Contains(s.KeyHash) && s.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
            total += deleted;
        }
        while (deleted == batch);

        if (total > 0)
        {
            LogDeleted(logger, total);
        }

        return total;
    }

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information, Message = "Deleted {Count} expired browser session(s)")]
    private static partial void LogDeleted(ILogger logger, int count);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Warning, Message = "Could not delete expired browser sessions (tried again later): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Debug, Message = "Forgot {Count} back-channel logout token id(s) too old to be taken again")]
    private static partial void LogForgotten(ILogger logger, int count);

    [LoggerMessage(EventId = 2114, Level = LogLevel.Warning, Message = "Could not forget old back-channel logout token ids (tried again later): {Reason}")]
    private static partial void LogForgetFailed(ILogger logger, string reason);
}
