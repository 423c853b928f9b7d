using BffSessions.Hosting;

namespace BffSessions.Api.Identity;

/// <summary>401 and 403 as problems, for every scheme: APIs never answer with a redirect to a login page.</summary>
internal static class AuthProblems
{
    public static Task WriteAsync(HttpContext http, int status, string detail, string? wwwAuthenticate = "Bearer")
    {
        if (wwwAuthenticate is not null)
        {
            http.Response.Headers.WWWAuthenticate = wwwAuthenticate;
        }

        return Problems.WriteAsync(http, Create(status, detail));
    }

    public static Microsoft.AspNetCore.Mvc.ProblemDetails Create(int status, string detail, string? type = null)
    {
        var unauthorized = status == StatusCodes.Status401Unauthorized;
        return Problems.Create(status, type ?? (unauthorized ? ProblemTypes.Unauthorized : ProblemTypes.Forbidden),
            unauthorized ? "Unauthorized" : "Forbidden", detail);
    }
}
