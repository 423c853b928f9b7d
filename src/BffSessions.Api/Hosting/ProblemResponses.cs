using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;

namespace BffSessions.Api.Hosting;

public static class ProblemResponses
{
    public static IHostApplicationBuilder AddProblemResponses(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType)
            {
                context.ProblemDetails.Type = ProblemTypes.UnsupportedMediaType;
                context.ProblemDetails.Detail ??= "Send the body as JSON with Content-Type: application/json.";
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
