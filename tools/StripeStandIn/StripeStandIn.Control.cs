using System.Text.Json;
using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

/// <summary>
/// The control API, for whoever runs the stand-in as a process (the benchmark, docker-compose, a person with curl):
/// <list type="bullet">
/// <item><c>GET /__standin/health</c>: this process (its instance id and pid), so a readiness check knows whom it reached.</item>
/// <item><c>GET /__standin/stats</c>: sessions and customers created, 429s, the most calls in one second, OTLP bytes taken.</item>
/// <item><c>GET|DELETE /__standin/requests</c> (<c>?path=</c>): the requests recorded (no Authorization header), or forget them.</item>
/// <item><c>POST|DELETE /__standin/faults</c>: inject a <see cref="Fault"/> (JSON, camelCase), or clear them.</item>
/// <item><c>GET|PATCH /__standin/settings</c>: latencyMs, sessionLifetimeSeconds, searchLagSeconds,
///   idempotencyRetentionSeconds, rateLimit (calls/s on every count, 0 = off), shouldRetry, webhookUrl, webhookSecret.</item>
/// <item><c>GET /__standin/customers</c>; <c>POST /__standin/customers/{id}/delete</c>: delete one as in the Dashboard
///   (the configured destination gets a signed <c>customer.deleted</c>); <c>GET /__standin/webhooks</c>: the deliveries.</item>
/// </list>
/// </summary>
public sealed partial class StripeStandIn
{
    private static readonly JsonSerializerOptions Camel = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private async Task ControlAsync(HttpContext http, string path)
    {
        var method = http.Request.Method;
        IResult result = (method, path) switch
        {
            ("GET", "/__standin/health") => Results.Json(new { standIn = "stripe", instance = _instance, pid = Environment.ProcessId }),
            ("GET", "/__standin/stats") => Results.Json(new
            {
                requests = RequestsHandled,
                sessions = Interlocked.Read(ref _sessionsCreated),
                customers = Interlocked.Read(ref _customersCreated),
                refused = _rateLimiter.Refused,
                maxPerSecond = _rateLimiter.MaxArrivedPerSecond,
                otlpBytes = Interlocked.Read(ref _otlpBytes),
                idempotencyKeys = _idempotency.Count,
            }),
            ("GET", "/__standin/requests") => Results.Json(Requests
                .Where(r => http.Request.Query["path"].Count == 0 || r.Path == http.Request.Query["path"].ToString())
                .Select(r => new
                {
                    r.Method, r.Path, r.Form, r.Json, r.Status, r.Replayed, idempotencyKey = r.IdempotencyKey,
                }), Camel),
            ("DELETE", "/__standin/requests") => Cleared(_requests.Clear),
            ("POST", "/__standin/faults") => await AddFaultAsync(http),
            ("DELETE", "/__standin/faults") => Cleared(() =>
            {
                lock (_faults)
                {
                    _faults.Clear();
                }
            }),
            ("GET", "/__standin/settings") => Results.Json(Settings()),
            ("PATCH", "/__standin/settings") => await ChangeSettingsAsync(http),
            ("GET", "/__standin/customers") => Results.Json(_customers.Values.OrderBy(c => c.Created).Select(c => new JsonObject
            {
                ["id"] = c.Id,
                ["email"] = c.Json["email"]?.DeepClone(),
                ["name"] = c.Json["name"]?.DeepClone(),
                ["metadata"] = c.Json["metadata"]?.DeepClone(),
                ["deleted"] = c.Deleted is not null,
            })),
            ("GET", "/__standin/webhooks") => Results.Json(WebhookDeliveries, Camel),
            ("POST", _) when path.StartsWith("/__standin/customers/", StringComparison.Ordinal) && path.EndsWith("/delete", StringComparison.Ordinal) =>
                DeleteCustomer(path["/__standin/customers/".Length..^"/delete".Length])
                    ? Results.Json(new { deleted = true })
                    : Results.NotFound(new { error = "no such customer, or already deleted" }),
            _ => Results.NotFound(new { error = $"no control endpoint {method} {path}" }),
        };
        await result.ExecuteAsync(http);
    }

    private static IResult Cleared(Action clear)
    {
        clear();
        return Results.NoContent();
    }

    private async Task<IResult> AddFaultAsync(HttpContext http)
    {
        Fault? fault;
        try
        {
            fault = await http.Request.ReadFromJsonAsync<Fault>(Camel, http.RequestAborted);
        }
        catch (JsonException e)
        {
            return Results.BadRequest(new { error = e.Message });
        }

        if (fault is null || !fault.Path.StartsWith('/'))
        {
            return Results.BadRequest(new { error = "a fault needs a path such as /v1/customers" });
        }

        Inject(fault);
        return Results.Json(fault, Camel, statusCode: StatusCodes.Status201Created);
    }

    private JsonObject Settings() => new()
    {
        ["latencyMs"] = Options.Latency.TotalMilliseconds,
        ["sessionLifetimeSeconds"] = Options.SessionLifetime.TotalSeconds,
        ["searchLagSeconds"] = Options.SearchLag.TotalSeconds,
        ["idempotencyRetentionSeconds"] = Options.IdempotencyRetention.TotalSeconds,
        ["rateLimits"] = JsonSerializer.SerializeToNode(Options.RateLimits, Camel),
        ["webhookUrl"] = Options.WebhookUrl?.ToString(),
        ["webhookSecretSet"] = !string.IsNullOrEmpty(Options.WebhookSecret),
    };

    private async Task<IResult> ChangeSettingsAsync(HttpContext http)
    {
        JsonObject? change;
        try
        {
            change = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted) as JsonObject;
        }
        catch (JsonException e)
        {
            return Results.BadRequest(new { error = e.Message });
        }

        foreach (var (name, value) in change ?? [])
        {
            switch (name)
            {
                case "latencyMs":
                    Options.Latency = TimeSpan.FromMilliseconds(value!.GetValue<double>());
                    break;
                case "sessionLifetimeSeconds":
                    Options.SessionLifetime = TimeSpan.FromSeconds(value!.GetValue<double>());
                    break;
                case "searchLagSeconds":
                    Options.SearchLag = TimeSpan.FromSeconds(value!.GetValue<double>());
                    break;
                case "idempotencyRetentionSeconds":
                    Options.IdempotencyRetention = TimeSpan.FromSeconds(value!.GetValue<double>());
                    break;
                case "rateLimit":
                    Options.RateLimits = value!.GetValue<int>() is > 0 and var perSecond ? RateLimits.Raised(perSecond) : RateLimits.Unlimited;
                    break;
                case "shouldRetry":
                    Options.RateLimits.ShouldRetry = value!.GetValue<bool>();
                    break;
                case "webhookUrl":
                    Options.WebhookUrl = StripeRules.Text(value) is { Length: > 0 } url ? new Uri(url) : null;
                    break;
                case "webhookSecret":
                    Options.WebhookSecret = StripeRules.Text(value);
                    break;
                default:
                    return Results.BadRequest(new { error = $"no setting {name}" });
            }
        }

        return Results.Json(Settings());
    }
}
