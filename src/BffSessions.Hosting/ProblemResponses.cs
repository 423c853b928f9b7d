using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace BffSessions.Hosting;

public static class ProblemResponses
{
    public static IHostApplicationBuilder AddProblemResponses(this IHostApplicationBuilder builder)
    {
        // Every problem passes through here, whoever wrote it: ours carry their URN already; the framework's own
        // (routing's 404, 405 and 415, a body the request delegate could not read, an unhandled exception's 500) get
        // one by their status, so a front-end can always branch on "type". No problem is worth caching.
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<ProblemDetailsOptions>().Configure<ServiceMetrics>((options, metrics) => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            context.HttpContext.Response.Headers.CacheControl = "no-store";
            if (problem.Type?.StartsWith(ProblemKind.Prefix, StringComparison.Ordinal) != true)
            {
                var status = problem.Status ?? context.HttpContext.Response.StatusCode;
                var kind = CommonProblems.ForStatus(status);
                problem.Type = kind.Type;
                // One wording per kind, whoever wrote the problem; a client-error stands for many statuses, each titled as
                // the framework titled it, or by its reason phrase.
                problem.Title = kind == CommonProblems.ClientError
                    ? problem.Title ?? (ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : kind.Title)
                    : kind.Title;
                problem.Detail ??= status switch
                {
                    StatusCodes.Status400BadRequest => "The request could not be read.",
                    StatusCodes.Status404NotFound => "There is nothing at this path.",
                    StatusCodes.Status405MethodNotAllowed => "This path does not take this HTTP method.",
                    StatusCodes.Status413PayloadTooLarge => "The request body is larger than this service accepts.",
                    StatusCodes.Status415UnsupportedMediaType => CommonProblems.JsonOnlyDetail,
                    _ => null,
                };
            }

            // Turned away: every 4xx, and a 503 (busy, rate-limited by Stripe, no database). A 500, 502 or 504 is a
            // failure, not a refusal; Stripe's own show in bffsessions.stripe.duration.
            if (problem.Status is < 500 or StatusCodes.Status503ServiceUnavailable)
            {
                metrics.RequestRejected(ProblemKind.ShortName(problem.Type!));
            }
        });
        // Whatever the client's Accept header says, a problem is written: after ASP.NET Core's own writer, which
        // declines a client that does not accept JSON, this one writes the same body anyway.
        builder.Services.AddSingleton<IProblemDetailsWriter, AnyAcceptProblemWriter>();
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

    /// <summary>
    /// The last writer: takes the problems ASP.NET Core's writer declined because the client's Accept header names no
    /// JSON type (a strict <c>Accept: text/html</c>, say). The contract promises application/problem+json with a type and
    /// a trace id on every error, and an empty body would hide which error it was.
    /// </summary>
    private sealed class AnyAcceptProblemWriter(IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
    {
        public bool CanWrite(ProblemDetailsContext context) => true;

        public async ValueTask WriteAsync(ProblemDetailsContext context)
        {
            var http = context.HttpContext;
            var problem = context.ProblemDetails;
            problem.Status ??= http.Response.StatusCode;
            problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? http.TraceIdentifier);
            options.Value.CustomizeProblemDetails?.Invoke(context);
            await http.Response.WriteAsJsonAsync(problem, problem.GetType(), options: (JsonSerializerOptions?)null, contentType: "application/problem+json");
        }
    }
}
