namespace BffSessions.Api.Identity;

/// <summary>401 and 403 as problems, for every scheme: APIs never answer with a redirect to a login page.</summary>
internal static class AuthProblems
{
    public static Task WriteAsync(HttpContext http, int status, string detail, string? wwwAuthenticate = "Bearer", string? type = null)
    {
        http.Response.StatusCode = status;
        if (wwwAuthenticate is not null)
        {
            http.Response.Headers.WWWAuthenticate = wwwAuthenticate;
        }

        return http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = status,
                Type = type ?? (status == StatusCodes.Status401Unauthorized ? Hosting.ProblemTypes.Unauthorized : Hosting.ProblemTypes.Forbidden),
                Title = status == StatusCodes.Status401Unauthorized ? "Unauthorized" : "Forbidden",
                Detail = detail,
            },
        }).AsTask();
    }
}
