using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Ends browser sessions from outside the browser: for back-channel logout, and for operators (a user who lost a
/// device, an account that was closed). Every instance sees the deletion at the user's next request.
/// </summary>
public sealed partial class BrowserSessions(IDbContextFactory<AppDbContext> databases, ILogger<BrowserSessions> logger)
{
    /// <summary>Ends every session of the user <paramref name="subject"/> at <paramref name="issuer"/>; returns how many there were.</summary>
    public Task<int> EndAllAsync(string issuer, string subject, CancellationToken cancellationToken) =>
        EndAsync(issuer, subject, sid: null, cancellationToken);

    /// <summary>
    /// Ends the session the provider calls <paramref name="sid"/>, or — without a sid — every session of
    /// <paramref name="subject"/>. With both, only a session matching both.
    /// </summary>
    public async Task<int> EndAsync(string issuer, string? subject, string? sid, CancellationToken cancellationToken)
    {
        if (subject is null && sid is null)
        {
            throw new ArgumentException("Name the user, the session, or both.", nameof(subject));
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var sessions = db.BrowserSessions.Where(s => s.Issuer == issuer);
        if (sid is not null)
        {
            sessions = sessions.Where(s => s.Sid == sid);
        }

        if (subject is not null)
        {
            sessions = sessions.Where(s => s.Subject == subject);
        }

        var ended = await sessions.ExecuteDeleteAsync(cancellationToken);
        LogEnded(logger, ended, sid is null ? "all of a user's sessions" : "one session");
        return ended;
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Ended {Count} browser session(s): {What}")]
    private static partial void LogEnded(ILogger logger, int count, string what);
}

/// <summary>Deletes expired sessions in the background, in bounded batches, on every instance (deleting twice is harmless).</summary>
public sealed partial class ExpiredSessionCleanup(
    IDbContextFactory<AppDbContext> databases, IOptions<BffOptions> options, TimeProvider time, ILogger<ExpiredSessionCleanup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SessionCleanupInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await DeleteExpiredAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetBaseException().Message);
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
            deleted = expired.Count == 0 ? 0 : await db.BrowserSessions.Where(s => expired.Contains(s.KeyHash)).ExecuteDeleteAsync(cancellationToken);
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
}
