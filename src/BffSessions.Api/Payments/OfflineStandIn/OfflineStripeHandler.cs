using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace BffSessions.Api.Payments.OfflineStandIn;

/// <summary>
/// Development only, when no Stripe:SecretKey is set: answers Stripe.net's calls (customer or v2 account, session) in-process, with objects
/// shaped like Stripe's own fixtures, so a fresh clone serves the whole flow without a Stripe account.
/// It validates like Stripe where this service could get it wrong (a customer is required, at least one
/// component enabled, idempotency keys replay) and answers anything else with Stripe's 404 shape.
/// State lives in memory; customer ids from earlier runs are accepted, since the map outlives the process.
/// </summary>
public sealed class OfflineStripeHandler(TimeProvider time) : HttpMessageHandler
{
    /// <summary>Stripe's customer sessions expire 30 minutes after they are created.</summary>
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromMinutes(30);

    private static readonly JsonObject Fixtures = LoadFixtures();

    private readonly ConcurrentDictionary<string, Lazy<JsonObject>> _replays = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var content = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var isJson = request.Content?.Headers.ContentType?.MediaType == "application/json";
        var form = isJson ? new Dictionary<string, string>() : ParseForm(content);
        var path = request.RequestUri?.AbsolutePath;
        var key = request.Headers.TryGetValues("Idempotency-Key", out var keys) ? keys.FirstOrDefault() : null;

        JsonObject Answer() => (request.Method.Method, path) switch
        {
            ("POST", "/v1/customers") => Customer(form),
            ("POST", "/v2/core/accounts") => Account(isJson ? JsonNode.Parse(content)?.AsObject() : null),
            ("POST", "/v1/customer_sessions") => CustomerSession(form),
            _ => Error("invalid_request_error", null, $"Unrecognized request URL ({request.Method} {path}).", null),
        };

        var body = key is null ? Answer() : _replays.GetOrAdd($"{path}|{key}", _ => new Lazy<JsonObject>(Answer)).Value;
        var status = body.ContainsKey("error") ? (path is "/v1/customers" or "/v1/customer_sessions" or "/v2/core/accounts" ? HttpStatusCode.BadRequest : HttpStatusCode.NotFound) : HttpStatusCode.OK;
        var response = new HttpResponseMessage(status)
        {
            RequestMessage = request,
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        response.Headers.Add("Request-Id", "req_offline_" + RandomId(14));
        return response;
    }

    private JsonObject Customer(Dictionary<string, string> form)
    {
        var customer = Fixtures["customer"]!.DeepClone().AsObject();
        customer["id"] = "cus_" + RandomId(14);
        customer["created"] = time.GetUtcNow().ToUnixTimeSeconds();
        customer["email"] = form.GetValueOrDefault("email");
        customer["name"] = form.GetValueOrDefault("name");
        customer["discount"] = null;
        var metadata = new JsonObject();
        foreach (var (name, value) in form.Where(f => f.Key.StartsWith("metadata[", StringComparison.Ordinal)))
        {
            metadata[name["metadata[".Length..^1]] = value;
        }

        customer["metadata"] = metadata;
        return customer;
    }

    /// <summary>POST /v2/core/accounts with the customer configuration: an Account that can be a session's customer_account.</summary>
    private JsonObject Account(JsonObject? body)
    {
        if (body?["configuration"]?["customer"] is null)
        {
            return Error("invalid_request_error", "parameter_missing", "An account needs the customer configuration here.", "configuration.customer");
        }

        return new JsonObject
        {
            ["id"] = "acct_" + RandomId(16),
            ["object"] = "v2.core.account",
            ["applied_configurations"] = new JsonArray("customer"),
            ["contact_email"] = body["contact_email"]?.DeepClone(),
            ["display_name"] = body["display_name"]?.DeepClone(),
            ["metadata"] = body["metadata"]?.DeepClone() ?? new JsonObject(),
            ["created"] = time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["livemode"] = false,
        };
    }

    private JsonObject CustomerSession(Dictionary<string, string> form)
    {
        var customer = form.GetValueOrDefault("customer");
        var account = form.GetValueOrDefault("customer_account");
        if (string.IsNullOrEmpty(customer) == string.IsNullOrEmpty(account))
        {
            return Error("invalid_request_error", "parameter_missing", "Exactly one of customer or customer_account is required.", "customer");
        }

        if (account is not null && !account.StartsWith("acct_", StringComparison.Ordinal))
        {
            return Error("invalid_request_error", "resource_missing", $"No such account: '{account}'", "customer_account");
        }

        if (customer is not null && !customer.StartsWith("cus_", StringComparison.Ordinal))
        {
            return Error("invalid_request_error", "resource_missing", $"No such customer: '{customer}'", "customer");
        }

        var enabled = form.Where(f => f.Key.StartsWith("components[", StringComparison.Ordinal) && f.Key.EndsWith("][enabled]", StringComparison.Ordinal)).ToList();
        if (enabled.Any(f => f.Value is not ("true" or "false")))
        {
            return Error("invalid_request_error", "parameter_invalid_boolean", "Invalid boolean for components[…][enabled].", "components");
        }

        if (!enabled.Any(f => f.Value == "true"))
        {
            return Error("invalid_request_error", "parameter_missing", "At least one component must be enabled.", "components");
        }

        var now = time.GetUtcNow();
        var session = Fixtures["customer_session"]!.DeepClone().AsObject();
        session["client_secret"] = "cuss_secret_" + RandomId(47);
        session["customer"] = customer;
        session["customer_account"] = account;
        session["created"] = now.ToUnixTimeSeconds();
        session["expires_at"] = now.Add(SessionLifetime).ToUnixTimeSeconds();
        foreach (var (component, value) in session["components"]!.AsObject())
        {
            value!["enabled"] = form.GetValueOrDefault($"components[{component}][enabled]") == "true";
        }

        return session;
    }

    private static JsonObject Error(string type, string? code, string message, string? param) => new()
    {
        ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["message"] = message, ["param"] = param },
    };

    private static Dictionary<string, string> ParseForm(string body) =>
        body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .GroupBy(pair => WebUtility.UrlDecode(pair[0]), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => WebUtility.UrlDecode(g.Last().ElementAtOrDefault(1) ?? ""), StringComparer.Ordinal);

    private static string RandomId(int length) =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);

    private static JsonObject LoadFixtures()
    {
        using var stream = typeof(OfflineStripeHandler).Assembly.GetManifestResourceStream("BffSessions.Api.Payments.OfflineStandIn.fixtures.json")
            ?? throw new InvalidOperationException("The Stripe fixtures are not embedded in the assembly.");
        return JsonNode.Parse(stream)!.AsObject();
    }
}
