using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;

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
        var ended = await Named(db, issuer, subject, sid, signedInBy: null).ExecuteDeleteAsync(cancellationToken);
        LogEnded(logger, ended, sid is null ? "all of a user's sessions" : "one session");
        return ended;
    }

    /// <summary>
    /// Acts on a back-channel logout token once, on whichever instance and however often it arrives: in one transaction,
    /// claims the token (<see cref="SeenLogoutTokens"/>) and ends the sessions it names that began by
    /// <paramref name="signedInBy"/>. Returns how many ended, or null when the token had been acted on before. When
    /// ending fails the claim goes with it, so the provider's retry still ends them.
    /// </summary>
    public async Task<int?> EndOnceAsync(LogoutRequest logout, DateTime signedInBy, CancellationToken cancellationToken)
    {
        await using var strategyContext = await databases.CreateDbContextAsync(cancellationToken);
        // Within the database's execution strategy: on PostgreSQL a dropped connection runs the whole transaction again.
        var ended = await strategyContext.Database.CreateExecutionStrategy().ExecuteAsync(
            (logout, signedInBy),
            async (_, state, token) =>
            {
                await using var db = await databases.CreateDbContextAsync(token);
                await using var transaction = await db.Database.BeginTransactionAsync(token);
                if (!await SeenLogoutTokens.ClaimAsync(db, state.logout, token))
                {
                    return (int?)null;
                }

                var deleted = await Named(db, state.logout.Issuer, state.logout.Subject, state.logout.Sid, state.signedInBy)
                    .ExecuteDeleteAsync(token);
                await transaction.CommitAsync(token);
                return deleted;
            },
            null,
            cancellationToken);
        if (ended is { } count)
        {
            LogEnded(logger, count, logout.Sid is null ? "all of a user's sessions" : "one session");
        }

        return ended;
    }

    /// <summary>The sessions named by sid, by user, or both; with <paramref name="signedInBy"/>, only those that began by then.</summary>
    private static IQueryable<BrowserSession> Named(AppDbContext db, string issuer, string? subject, string? sid, DateTime? signedInBy)
    {
        var sessions = db.BrowserSessions.Where(s => s.Issuer == issuer);
        if (sid is not null)
        {
            sessions = sessions.Where(s => s.Sid == sid);
        }

        if (subject is not null)
        {
            sessions = sessions.Where(s => s.Subject == subject);
        }

        if (signedInBy is { } by)
        {
            sessions = sessions.Where(s => s.CreatedAt <= by);
        }

        return sessions;
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Ended {Count} browser session(s): {What}")]
    private static partial void LogEnded(ILogger logger, int count, string what);
}
