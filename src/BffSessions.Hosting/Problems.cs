using Microsoft.AspNetCore.Mvc;

namespace BffSessions.Hosting;

/// <summary>
/// The one writer of problems: ASP.NET Core's <see cref="IProblemDetailsService"/>, which adds the trace id and lets
/// <see cref="ProblemResponses"/> check the type. Endpoints return <see cref="ProblemKind.Result"/>; middleware,
/// exception handlers and authentication events write <see cref="ProblemKind.Create"/> with this.
/// </summary>
public static class Problems
{
    /// <summary>Writes <paramref name="problem"/> as the response, with its status.</summary>
    public static async Task WriteAsync(this IProblemDetailsService problems, HttpContext http, ProblemDetails problem, Exception? exception = null)
    {
        http.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        // Try: a client whose Accept header refuses JSON gets the status alone, rather than an exception here.
        await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }
}
