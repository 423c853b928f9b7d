using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;

namespace BffSessions.Hosting;

public static class ProblemResponses
{
    public static IHostApplicationBuilder AddProblemResponses(this IHostApplicationBuilder builder)
    {
        // Every problem passes through here, whoever wrote it: ours carry their URN already; the framework's own
        // (routing's 404 and 405, a 415 from binding, an unhandled exception's 500) get one by their status, so a
        // front-end can always branch on "type".
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type?.StartsWith(ProblemTypes.Prefix, StringComparison.Ordinal) != true)
            {
                var status = problem.Status ?? context.HttpContext.Response.StatusCode;
                problem.Type = ProblemTypes.ForStatus(status);
                problem.Detail ??= status switch
                {
                    StatusCodes.Status404NotFound => "There is nothing at this path.",
                    StatusCodes.Status405MethodNotAllowed => "This path does not take this HTTP method.",
                    StatusCodes.Status415UnsupportedMediaType => "Send the body as JSON with Content-Type: application/json.",
                    _ => null,
                };
            }
        });
        // Binding failures (bad JSON, wrong content type, no body) throw instead of answering an empty 400,
        // so BadRequestProblemHandler can say precisely what was wrong, in one place.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestProblemHandler>();
        builder.Services.Configure<JsonOptions>(options => ConfigureStrictJson(options.SerializerOptions));
        return builder;
    }

    /// <summary>
    /// The contract is exact: camelCase names as written, nothing unknown, no key twice (a duplicate key is a
    /// classic way to slip one value past a validator and another past the binder).
    /// </summary>
    public static void ConfigureStrictJson(JsonSerializerOptions json)
    {
        json.PropertyNameCaseInsensitive = false;
        json.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        json.AllowDuplicateProperties = false;
        json.NumberHandling = JsonNumberHandling.Strict;
        json.MaxDepth = 16;
    }

    public static WebApplication UseProblemResponses(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}
