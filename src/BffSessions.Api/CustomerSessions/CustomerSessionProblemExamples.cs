using System.Text.Json.Nodes;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// Swagger UI shows, for each error status of the endpoint, the problems it really answers with: our
/// <c>urn:bffsessions:problem:*</c> types (several per status where there are several, as a drop-down), instead of
/// an example made up from ProblemDetails' schema (<c>"type": "string"</c>, <c>additionalProp1</c>).
/// </summary>
internal sealed class CustomerSessionProblemExamples : IOperationFilter
{
    private const string TraceId = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// <summary>
    /// Per status, the problems as the code writes them (named, since one type can have two wordings). Where a factory
    /// makes the problem, it makes the example too; the rest is pinned against real answers by ApiDocumentationTests.
    /// </summary>
    private static readonly Dictionary<int, (string Name, string Type, string Title, string? Detail, JsonObject? Extra)[]> ByStatus = new()
    {
        [400] =
        [
            ("invalid-request", ProblemTypes.InvalidRequest, "The request is not valid", null,
                new JsonObject { ["errors"] = new JsonObject { ["components"] = new JsonArray("At least one component must be enabled.") } }),
            ("invalid-body", ProblemTypes.InvalidBody, "Invalid request body", "The body could not be read as this endpoint's request.",
                new JsonObject { ["errors"] = new JsonObject { ["components.pricingTable.enabled"] = new JsonArray("The value has the wrong JSON type: this member takes true or false.") } }),
        ],
        [401] =
        [
            ("unauthorized", ProblemTypes.Unauthorized, "Unauthorized", "The bearer token is not valid.", null),
            ("csrf-header-missing", IdentityProblemTypes.CsrfHeaderMissing, "Unauthorized", CsrfHeader.MissingDetail, null),
        ],
        [403] = [("forbidden", ProblemTypes.Forbidden, "Forbidden", IdentityExtensions.NoUsableUser, null)],
        [413] = [From("body-too-large", RequestLimits.TooLarge(new RequestLimitsOptions().MaxBodyBytes))],
        [415] = [From("unsupported-media-type", RequestLimits.UnsupportedMediaType())],
        [429] = [("rate-limited", ProblemTypes.RateLimited, "Too many requests", RateLimits.RetryLaterDetail, null)],
        [502] =
        [
            From("stripe-error", StripeProblemHandler.StripeError("req_Qx1uVvA7ZfXn4T")),
            From("stripe-unreachable", StripeProblemHandler.UnreachableProblem()),
            From("stripe-credentials-rejected", StripeProblemHandler.CredentialsRejectedProblem(requestId: null)),
        ],
        [503] =
        [
            From("stripe-busy (budget)", StripeProblemHandler.BudgetExhaustedProblem()),
            From("stripe-busy (in flight)", StripeProblemHandler.BusyProblem()),
            From("stripe-rate-limited", StripeProblemHandler.RateLimitedProblem(requestId: null)),
            From("database-unavailable", DatabaseProblemHandler.Unavailable()),
        ],
        [504] = [From("stripe-timeout", StripeProblemHandler.TimeoutProblem())],
    };

    private static (string Name, string Type, string Title, string? Detail, JsonObject? Extra) From(string name, Microsoft.AspNetCore.Mvc.ProblemDetails problem) =>
        (name, problem.Type!, problem.Title!, problem.Detail,
            problem.Extensions.Count == 0 ? null : new JsonObject(problem.Extensions.Select(e => KeyValuePair.Create(e.Key, JsonValue.Create(e.Value?.ToString()) as JsonNode))));

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != CustomerSessionsApi.OperationName || operation.Responses is null)
        {
            return;
        }

        foreach (var (statusText, response) in operation.Responses)
        {
            if (!int.TryParse(statusText, System.Globalization.CultureInfo.InvariantCulture, out var status) || !ByStatus.TryGetValue(status, out var problems)
                || response.Content?.TryGetValue("application/problem+json", out var media) != true || media is null)
            {
                continue;
            }

            media.Examples = problems.ToDictionary(
                problem => problem.Name,
                problem => (IOpenApiExample)new OpenApiExample { Summary = problem.Name, Value = Example(status, problem) });
        }
    }

    private static JsonObject Example(int status, (string Name, string Type, string Title, string? Detail, JsonObject? Extra) problem)
    {
        var example = new JsonObject
        {
            ["type"] = problem.Type,
            ["title"] = problem.Title,
            ["status"] = status,
        };
        if (problem.Detail is not null)
        {
            example["detail"] = problem.Detail;
        }
        foreach (var (name, value) in problem.Extra ?? [])
        {
            example[name] = value?.DeepClone();
        }
        example["traceId"] = TraceId;
        return example;
    }
}
