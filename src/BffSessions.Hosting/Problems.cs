using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace BffSessions.Hosting;

/// <summary>
/// Every problem the service answers with is built here and written by ASP.NET Core's <see cref="IProblemDetailsService"/>,
/// which adds the trace id and lets <see cref="ProblemResponses"/> check the type: endpoints return
/// <see cref="Result"/>, middleware and handlers call <c>WriteAsync</c>.
/// </summary>
public static class Problems
{
    public static ProblemDetails Create(int status, string type, string title, string? detail = null) =>
        new() { Status = status, Type = type, Title = title, Detail = detail };

    /// <summary>A problem as an endpoint's result.</summary>
    public static ProblemHttpResult Result(int status, string type, string title, string? detail = null) =>
        TypedResults.Problem(Create(status, type, title, detail));

    /// <summary>Writes <paramref name="problem"/> as the response, with its status.</summary>
    public static async Task WriteAsync(this IProblemDetailsService problems, HttpContext http, ProblemDetails problem, Exception? exception = null)
    {
        http.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        // Try: a client whose Accept header refuses JSON gets the status alone, rather than an exception here.
        await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>
    /// For callbacks the framework calls without constructor injection (authentication events): the same writer,
    /// found through the request's services.
    /// </summary>
    public static Task WriteAsync(HttpContext http, ProblemDetails problem) =>
        http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(http, problem);
}
