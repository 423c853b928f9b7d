using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace BffSessions.Hosting;

/// <summary>Endpoint metadata: the problems an endpoint answers with, for its documentation.</summary>
public sealed record ProblemExamples(IReadOnlyList<ProblemExample> Examples);

/// <summary>
/// Swagger UI shows, for each error status of an endpoint, the problems it really answers with (several per status
/// where there are several, as a drop-down), made from the problem kinds and the details the code writes, instead of
/// an example made up from ProblemDetails' schema (<c>"type": "string"</c>, <c>additionalProp1</c>).
/// </summary>
public static class ProblemDocumentation
{
    /// <summary>A trace id of the right shape, for the examples.</summary>
    private const string ExampleTraceId = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// <summary>Declares the problems the endpoint answers with: one response per status, each with its examples, in this order.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params ProblemExample[] examples)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new ProblemExamples(examples));
        builder.Add(endpoint =>
        {
            foreach (var status in examples.Select(e => e.Kind.Status).Distinct())
            {
                // A status declared already (the validation filter's 400, with its errors) keeps its schema.
                if (!endpoint.Metadata.OfType<IProducesResponseTypeMetadata>().Any(m => m.StatusCode == status))
                {
                    endpoint.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), ["application/problem+json"]));
                }
            }
        });
        return builder;
    }

    /// <summary>Fills each problem response of an operation with the examples its endpoint declared.</summary>
    internal sealed class ExamplesFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var declared = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<ProblemExamples>().SelectMany(p => p.Examples).ToList();
            if (declared.Count == 0 || operation.Responses is null)
            {
                return;
            }

            foreach (var (statusText, response) in operation.Responses)
            {
                if (!int.TryParse(statusText, CultureInfo.InvariantCulture, out var status)
                    || response.Content?.TryGetValue("application/problem+json", out var media) != true || media is null)
                {
                    continue;
                }

                var examples = declared.Where(e => e.Kind.Status == status).ToList();
                if (examples.Count > 0)
                {
                    media.Examples = examples.ToDictionary(e => e.Name, e => (IOpenApiExample)new OpenApiExample { Summary = e.Name, Value = Json(e) });
                }
            }
        }

        private static JsonObject Json(ProblemExample example)
        {
            var json = new JsonObject
            {
                ["type"] = example.Kind.Type,
                ["title"] = example.Kind.Title,
                ["status"] = example.Kind.Status,
            };
            if (example.Detail is not null)
            {
                json["detail"] = example.Detail;
            }

            foreach (var (name, value) in example.Members ?? new Dictionary<string, object?>())
            {
                json[name] = JsonSerializer.SerializeToNode(value);
            }

            json["traceId"] = ExampleTraceId;
            return json;
        }
    }
}
