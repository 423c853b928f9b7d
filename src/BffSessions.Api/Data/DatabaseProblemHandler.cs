using System.Data.Common;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Diagnostics;

namespace BffSessions.Api.Data;

/// <summary>
/// The database is unreachable (stopped, failing over, out of connections): a 503 problem with Retry-After, never a
/// 500. Bearer users already in the memory cache keep being served meanwhile (cookie sessions live in the database and
/// wait for it), and nothing needs restarting: the next request opens a new connection.
/// </summary>
public sealed partial class DatabaseProblemHandler(IProblemDetailsService problems, ILogger<DatabaseProblemHandler> logger) : IExceptionHandler
{
    /// <summary>
    /// Five seconds. On PostgreSQL, EF Core has already retried a dropped connection (<c>DataExtensions.AddDatabase</c>),
    /// so what is left is an outage or a failover, which takes seconds, not milliseconds; asking sooner would only add
    /// load. On SQLite (no retries) it is a locked or unreadable file, which a few seconds also outlasts or not at all.
    /// </summary>
    private const string RetryAfterSeconds = "5";

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsDatabaseFailure(exception))
        {
            return false;
        }

        LogUnavailable(logger, Innermost(exception).Message);
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
        await problems.WriteAsync(httpContext, DataProblems.DatabaseUnavailable.Create(DataProblems.UnavailableDetail), exception);
        return true;
    }

    /// <summary>
    /// A database driver's error anywhere in the chain (EF Core wraps them, and its retry strategy wraps those); a
    /// connection timeout is one too (Npgsql and SQLite raise it as theirs). A bare TimeoutException is not: it could
    /// come from any other call, Stripe's included.
    /// </summary>
    public static bool IsDatabaseFailure(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException or Microsoft.EntityFrameworkCore.DbUpdateException)
            {
                return true;
            }
        }

        return false;
    }

    private static Exception Innermost(Exception exception) => exception.InnerException is { } inner ? Innermost(inner) : exception;

    [LoggerMessage(EventId = 5002, Level = LogLevel.Error, Message = "The database is unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
