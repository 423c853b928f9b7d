using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace BffSessions.Api.Customers;

/// <summary>
/// The customer database is unreachable (stopped, failing over, out of connections): a 503 problem with
/// Retry-After, never a 500. Users already in the memory cache keep being served meanwhile, and nothing needs
/// restarting: the next request opens a new connection.
/// </summary>
public sealed class DatabaseProblemHandler(IProblemDetailsService problems, ILogger<DatabaseProblemHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsDatabaseFailure(exception))
        {
            return false;
        }

        logger.LogError("The customer database is unavailable: {Reason}", Innermost(exception).Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = Hosting.ProblemTypes.DatabaseUnavailable,
                Title = "Customer database unavailable",
                Detail = "The service cannot look up or record customers right now. Retry after the time in the Retry-After header.",
            },
        });
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
}
