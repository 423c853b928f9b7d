using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BffSessions.Tests.Infrastructure;

/// <summary>One request as Stripe would have received it: form fields decoded, headers kept.</summary>
public sealed record StripeRequest(
    string Method, string Path, IReadOnlyDictionary<string, string> Form, IReadOnlyDictionary<string, string> Headers, JsonObject? Json = null);

/// <summary>
/// A real HTTP server on loopback that answers like Stripe's API, so Stripe.net's whole path — form encoding,
/// headers, retries, error parsing — runs in the tests. It records every request and lets a test replace the
/// answer for a path (to inject faults). Customers it did not create are unknown to it, as in Stripe.
/// </summary>
public sealed class StripeStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<StripeRequest> _requests = new();
    private readonly ConcurrentDictionary<string, JsonObject> _customers = new();
    private readonly ConcurrentDictionary<string, JsonObject> _accounts = new();
    private readonly ConcurrentDictionary<string, Func<StripeRequest, int, Task<IResult>>> _overrides = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private readonly ConcurrentDictionary<string, Lazy<JsonObject>> _replays = new();
    private readonly ConcurrentQueue<string> _issuedSecrets = new();

    private static long s_requestsToAnyStandIn;

    private int _openConnections;
    private int _totalConnections;
    private long _requestsHandled;

    private StripeStandIn(WebApplication app) => _app = app;

    public int OpenConnections => Volatile.Read(ref _openConnections);

    public int TotalConnections => Volatile.Read(ref _totalConnections);

    /// <summary>Every customer this stand-in created: its id and the user_id in its metadata.</summary>
    public IReadOnlyList<(string Id, string? UserId)> Customers =>
        _customers.Values.Select(c => (c["id"]!.GetValue<string>(), c["metadata"]?["user_id"]?.GetValue<string>())).ToList();

    /// <summary>What the stand-in answers when no override is set, for overrides that only sometimes interfere.</summary>
    public IResult Default(StripeRequest request) => Answer(request);

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyCollection<StripeRequest> Requests => _requests.ToArray();

    /// <summary>Requests every stand-in of this test run has answered: how a test can tell that others ran beside it.</summary>
    public static long RequestsToAnyStandIn => Interlocked.Read(ref s_requestsToAnyStandIn);

    /// <summary>Requests this stand-in has answered since it started (<see cref="Reset"/> does not clear it).</summary>
    public long RequestsHandled => Interlocked.Read(ref _requestsHandled);

    public static async Task<StripeStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        StripeStandIn? standIn = null;
        // Counts TCP connections, so a test can tell whether the service leaks or hoards them.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => async connection =>
        {
            Interlocked.Increment(ref standIn!._openConnections);
            Interlocked.Increment(ref standIn._totalConnections);
            try
            {
                await next(connection);
            }
            finally
            {
                Interlocked.Decrement(ref standIn._openConnections);
            }
        })));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        standIn = new StripeStandIn(app);
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        standIn.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return standIn;
    }

    /// <summary>Every client secret this stand-in has handed out, oldest first.</summary>
    public IReadOnlyList<string> IssuedSecrets => _issuedSecrets.ToArray();

    public IReadOnlyList<StripeRequest> RequestsTo(string path) => Requests.Where(r => r.Path == path).ToList();

    /// <summary>Answer requests to <paramref name="path"/> with <paramref name="answer"/>; it gets the request and its attempt number (1-based).</summary>
    public void Override(string path, Func<StripeRequest, int, Task<IResult>> answer) => _overrides[path] = answer;

    public void Override(string path, Func<StripeRequest, int, IResult> answer) => Override(path, (r, n) => Task.FromResult(answer(r, n)));

    /// <summary>As if deleted in the Dashboard: sessions for it now fail with resource_missing.</summary>
    public bool DeleteCustomer(string customerId) => _customers.TryRemove(customerId, out _) | _accounts.TryRemove(customerId, out _);

    /// <summary>Every Account v2 this stand-in created: its id and the user_id in its metadata.</summary>
    public IReadOnlyList<(string Id, string? UserId)> Accounts =>
        _accounts.Values.Select(a => (a["id"]!.GetValue<string>(), a["metadata"]?["user_id"]?.GetValue<string>())).ToList();

    public void Reset()
    {
        _overrides.Clear();
        _attempts.Clear();
        _requests.Clear();
    }

    public static IResult Error(int status, string type, string? code = null, string message = "An error occurred.", string? param = null) =>
        Results.Json(new JsonObject
        {
            ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["message"] = message, ["param"] = param },
        }, statusCode: status);

    private async Task HandleAsync(HttpContext http)
    {
        var form = http.Request.HasFormContentType
            ? (await http.Request.ReadFormAsync()).ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        // API v2 (/v2/…) takes JSON bodies; v1 takes forms.
        var json = http.Request.HasJsonContentType() ? (await JsonNode.ParseAsync(http.Request.Body))?.AsObject() : null;
        var request = new StripeRequest(http.Request.Method, http.Request.Path.Value ?? "", form, headers, json);
        _requests.Enqueue(request);
        Interlocked.Increment(ref _requestsHandled);
        Interlocked.Increment(ref s_requestsToAnyStandIn);
        http.Response.Headers["Request-Id"] = "req_standin_" + RandomId(12);

        var attempt = _attempts.AddOrUpdate(request.Path, 1, (_, n) => n + 1);
        IResult result = _overrides.TryGetValue(request.Path, out var answer)
            ? await answer(request, attempt)
            : Answer(request);
        await result.ExecuteAsync(http);
    }

    private IResult Answer(StripeRequest request)
    {
        if (!request.Headers.TryGetValue("Authorization", out var auth) || !auth.StartsWith("Bearer sk_", StringComparison.Ordinal))
        {
            return Error(401, "invalid_request_error", message: "Invalid API Key provided.");
        }

        return (request.Method, request.Path) switch
        {
            ("POST", "/v1/customers") => CreateCustomer(request),
            ("POST", "/v2/core/accounts") => CreateAccount(request),
            ("POST", "/v1/customer_sessions") => CreateSession(request),
            _ => Error(404, "invalid_request_error", message: $"Unrecognized request URL ({request.Method}: {request.Path})."),
        };
    }

    /// <summary>A v1 Customer; a repeated Idempotency-Key gets the first answer again, not a second customer.</summary>
    private IResult CreateCustomer(StripeRequest request) => Results.Json(Idempotent(request, () => NewCustomer(request)));

    /// <summary>Like Stripe, the first answer to an Idempotency-Key is replayed for every repeat of it.</summary>
    private JsonObject Idempotent(StripeRequest request, Func<JsonObject> create) =>
        request.Headers.TryGetValue("Idempotency-Key", out var key)
            ? _replays.GetOrAdd(request.Path + "|" + key, _ => new Lazy<JsonObject>(create)).Value
            : create();

    private JsonObject NewCustomer(StripeRequest request)
    {
        var id = "cus_" + RandomId(14);
        var customer = new JsonObject
        {
            ["id"] = id,
            ["object"] = "customer",
            ["email"] = request.Form.GetValueOrDefault("email"),
            ["name"] = request.Form.GetValueOrDefault("name"),
            ["metadata"] = new JsonObject { ["user_id"] = request.Form.GetValueOrDefault("metadata[user_id]") },
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["livemode"] = false,
        };
        _customers[id] = customer;
        return customer;
    }

    /// <summary>An Account v2 with the customer configuration; a repeated Idempotency-Key gets the first answer again.</summary>
    private IResult CreateAccount(StripeRequest request)
    {
        if (request.Json?["configuration"]?["customer"] is null)
        {
            return Error(400, "invalid_request_error", "parameter_missing", "configuration.customer is required.", "configuration.customer");
        }

        JsonObject NewAccount()
        {
            var account = new JsonObject
            {
                ["id"] = "acct_" + RandomId(16),
                ["object"] = "v2.core.account",
                ["applied_configurations"] = new JsonArray("customer"),
                ["contact_email"] = request.Json["contact_email"]?.DeepClone(),
                ["display_name"] = request.Json["display_name"]?.DeepClone(),
                ["metadata"] = request.Json["metadata"]?.DeepClone(),
                ["created"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["livemode"] = false,
            };
            _accounts[account["id"]!.GetValue<string>()] = account;
            return account;
        }

        return Results.Json(Idempotent(request, NewAccount));
    }

    private IResult CreateSession(StripeRequest request)
    {
        var customer = request.Form.GetValueOrDefault("customer");
        var account = request.Form.GetValueOrDefault("customer_account");
        if (account is not null)
        {
            if (customer is not null)
            {
                return Error(400, "invalid_request_error", "parameter_unknown", "Only one of customer and customer_account.", "customer");
            }

            if (!_accounts.ContainsKey(account))
            {
                return Error(400, "invalid_request_error", "resource_missing", $"No such account: '{account}'", "customer_account");
            }
        }
        else if (customer is null || !_customers.ContainsKey(customer))
        {
            return Error(400, "invalid_request_error", "resource_missing", $"No such customer: '{customer}'", "customer");
        }

        if (!request.Form.Any(f => f.Key.StartsWith("components[", StringComparison.Ordinal) && f.Key.EndsWith("][enabled]", StringComparison.Ordinal) && f.Value == "true"))
        {
            return Error(400, "invalid_request_error", "parameter_missing", "At least one component must be enabled.", "components");
        }

        var session = Session(customer);
        session["customer_account"] = account;
        _issuedSecrets.Enqueue(session["client_secret"]!.GetValue<string>());
        return Results.Json(session);
    }

    public static JsonObject Session(string? customer) => new()
    {
        ["object"] = "customer_session",
        ["client_secret"] = "cuss_secret_" + RandomId(47),
        ["customer"] = customer,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["expires_at"] = DateTimeOffset.UtcNow.AddMinutes(30).ToUnixTimeSeconds(),
        ["livemode"] = false,
        ["components"] = new JsonObject(),
    };

    private static string RandomId(int length) =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
