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

    private static readonly Dictionary<int, (string Type, string Title, string Detail, JsonObject? Extra)[]> ByStatus = new()
    {
        [400] =
        [
            (ProblemTypes.InvalidRequest, "The request is not valid", "See errors.",
                new JsonObject { ["errors"] = new JsonObject { ["components"] = new JsonArray("Enable at least one component.") } }),
            (ProblemTypes.InvalidBody, "Invalid request body", "The body could not be read as this endpoint's request.",
                new JsonObject { ["errors"] = new JsonObject { ["components.pricingTable.enabled"] = new JsonArray("The value has the wrong JSON type: this member takes true or false.") } }),
        ],
        [401] =
        [
            (ProblemTypes.Unauthorized, "Unauthorized", "The bearer token has expired.", null),
            (IdentityProblemTypes.CsrfHeaderMissing, "Unauthorized", $"Cookie-authenticated API calls must carry the header {CsrfHeader.Name}: 1.", null),
        ],
        [403] = [(ProblemTypes.Forbidden, "Forbidden", "The signed-in identity names no usable user: it needs an issuer (iss) and a user id claim of 1 to 255 characters without control characters.", null)],
        [413] = [(ProblemTypes.BodyTooLarge, "Request body too large", "The request body may be at most 16384 bytes.", null)],
        [415] = [(ProblemTypes.UnsupportedMediaType, "Unsupported media type", RequestLimits.UnsupportedMediaTypeDetail, null)],
        [429] = [(ProblemTypes.RateLimited, "Too many requests", "Too many requests were made in a short time. Retry after the time in the Retry-After header.", null)],
        [502] =
        [
            (PaymentProblemTypes.StripeError, "Stripe could not complete the request",
                "The payment provider could not complete the request. Try again; if it keeps failing, contact support with the trace id.",
                new JsonObject { ["stripeRequestId"] = "req_Qx1uVvA7ZfXn4T" }),
            (PaymentProblemTypes.StripeUnreachable, "Stripe could not be reached", "The payment provider could not be reached. Try again.", null),
            (PaymentProblemTypes.StripeCredentialsRejected, "Stripe could not be used",
                "The payment provider rejected this service's credentials. The operators have been alerted.", null),
        ],
        [503] =
        [
            (PaymentProblemTypes.StripeBusy, "Stripe call budget exhausted",
                "The service is at its budget of payment-provider calls per second. Retry after the time in the Retry-After header.", null),
            (PaymentProblemTypes.StripeRateLimited, "Stripe is rate-limiting requests",
                "The payment provider is rate-limiting requests. Retry after the time in the Retry-After header.", null),
            (DataProblemTypes.DatabaseUnavailable, "Database unavailable", "The service cannot reach its database (customers and browser sessions) right now. Retry after the time in the Retry-After header.", null),
        ],
        [504] = [(PaymentProblemTypes.StripeTimeout, "Stripe did not answer in time", "The payment provider did not answer in time. Try again.", null)],
    };

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
                problem => ProblemTypes.ShortName(problem.Type),
                problem => (IOpenApiExample)new OpenApiExample { Summary = ProblemTypes.ShortName(problem.Type), Value = Example(status, problem) });
        }
    }

    private static JsonObject Example(int status, (string Type, string Title, string Detail, JsonObject? Extra) problem)
    {
        var example = new JsonObject
        {
            ["type"] = problem.Type,
            ["title"] = problem.Title,
            ["status"] = status,
            ["detail"] = problem.Detail,
        };
        foreach (var (name, value) in problem.Extra ?? [])
        {
            example[name] = value?.DeepClone();
        }
        example["traceId"] = TraceId;
        return example;
    }
}
