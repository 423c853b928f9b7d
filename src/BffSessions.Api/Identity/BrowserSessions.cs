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
        EndAsync(issuer, subject, sid: null, signedInBy: null, cancellationToken);

    /// <summary>
    /// Ends the session the provider calls <paramref name="sid"/>, or — without a sid — every session of
    /// <paramref name="subject"/>. With both, only a session matching both. With <paramref name="signedInBy"/>, only
    /// sessions that began by then: a later sign-in is left alone.
    /// </summary>
    public async Task<int> EndAsync(string issuer, string? subject, string? sid, DateTime? signedInBy, CancellationToken cancellationToken)
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

        if (signedInBy is { } by)
        {
            sessions = sessions.Where(s => s.CreatedAt <= by);
        }

        var ended = await sessions.ExecuteDeleteAsync(cancellationToken);
        LogEnded(logger, ended, sid is null ? "all of a user's sessions" : "one session");
        return ended;
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Ended {Count} browser session(s): {What}")]
    private static partial void LogEnded(ILogger logger, int count, string what);
}
