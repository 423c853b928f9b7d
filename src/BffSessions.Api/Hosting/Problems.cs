namespace BffSessions.Api.Hosting;

/// <summary>Writes a problem from middleware (outside the exception handlers): status, type, title, detail.</summary>
public static class Problems
{
    public static Task WriteAsync(HttpContext http, int status, string type, string title, string detail)
    {
        http.Response.StatusCode = status;
        return http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = status, Type = type, Title = title, Detail = detail },
        }).AsTask();
    }
}
