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
    public const string DatabaseUnavailable = ProblemTypes.Prefix + "database-unavailable";

    /// <summary>
    /// Five seconds: Npgsql has already retried a dropped connection (Data:AddDatabase), so what is left is an outage
    /// or a failover, which takes PostgreSQL seconds, not milliseconds; asking sooner would only add load to it.
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
        await problems.WriteAsync(httpContext, Problems.Create(StatusCodes.Status503ServiceUnavailable, DatabaseUnavailable, "Database unavailable",
            "The service cannot reach its database (customers and browser sessions) right now. Retry after the time in the Retry-After header."), exception);
        return true;
    }

    private static bool IsDatabaseFailure(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException or Microsoft.EntityFrameworkCore.DbUpdateException or TimeoutException)
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
