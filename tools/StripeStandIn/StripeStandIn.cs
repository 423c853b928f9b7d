using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BffSessions.StandIn;

/// <summary>
/// Stripe, as far as this service uses it, keeping the rules Stripe documents (README.md beside this file): its form
/// encoding and parameter rules, idempotent replay of stored answers (failures included), parameter comparison,
/// field limits, search that lags, rate limits, signed webhooks. Three ways to run it: <see cref="StartAsync"/> (a
/// real HTTP server on loopback, for tests), <see cref="CreateInProcess"/> with <see cref="CreateHandler"/> (no
/// socket: Development's offline mode), and Program.cs (a process or container: the benchmark, docker-compose).
/// Tests and the control API (<c>/__standin/…</c>) inject faults and latency, change limits, and read what was asked.
/// </summary>
public sealed partial class StripeStandIn : IAsyncDisposable
{
    private static long s_requestsToAnyStandIn;

    private readonly WebApplication _app;
    private readonly bool _serving;
    private readonly IdempotencyStore _idempotency;
    private readonly RateLimiter _rateLimiter;
    private readonly WebhookSender _webhooks;
    private readonly ConcurrentDictionary<string, StoredObject> _customers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StoredObject> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<StripeRequest> _requests = new();
    private readonly ConcurrentQueue<string> _issuedSecrets = new();
    private readonly ConcurrentDictionary<string, Func<StripeRequest, int, Task<IResult>>> _overrides = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly List<FaultState> _faults = [];
    private readonly Lock _stateFileLock = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");

    private int _openConnections;
    private int _totalConnections;
    private long _requestsHandled;
    private long _sessionsCreated;
    private long _customersCreated;
    private long _otlpBytes;

    private StripeStandIn(WebApplication app, StandInOptions options, bool serving)
    {
        _app = app;
        _serving = serving;
        Options = options;
        _idempotency = new IdempotencyStore(options);
        _rateLimiter = new RateLimiter(options);
        _webhooks = new WebhookSender(options);
        LoadState();
    }

    /// <summary>The settings in force; a test may change them while the stand-in runs.</summary>
    public StandInOptions Options { get; }

    /// <summary>Where it listens (<see cref="StartAsync"/>), or a placeholder for the in-process handler.</summary>
    public Uri BaseAddress { get; private set; } = new("http://stripe-stand-in.invalid/");

    /// <summary>Open TCP connections to it now: a test can tell whether the service leaks or hoards them.</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    public int TotalConnections => Volatile.Read(ref _totalConnections);

    /// <summary>Requests this stand-in has answered since it started (<see cref="Reset"/> does not clear it).</summary>
    public long RequestsHandled => Interlocked.Read(ref _requestsHandled);

    /// <summary>Requests every stand-in in this process has answered: how a test can tell that others ran beside it.</summary>
    public static long RequestsToAnyStandIn => Interlocked.Read(ref s_requestsToAnyStandIn);

    /// <summary>The requests recorded since the last <see cref="Reset"/>, oldest first.</summary>
    public IReadOnlyCollection<StripeRequest> Requests => _requests.ToArray();

    public IReadOnlyList<StripeRequest> RequestsTo(string path) => _requests.Where(r => r.Path == path).ToList();

    /// <summary>Every client secret handed out, oldest first.</summary>
    public IReadOnlyList<string> IssuedSecrets => _issuedSecrets.ToArray();

    /// <summary>The customers that exist (not deleted): id and the <c>user_id</c> in their metadata.</summary>
    public IReadOnlyList<(string Id, string? UserId)> Customers => Live(_customers);

    /// <summary>The customers ever created, deleted ones included.</summary>
    public IReadOnlyList<(string Id, string? UserId, bool Deleted)> AllCustomers =>
        _customers.Values.OrderBy(c => c.Created).Select(c => (c.Id, StripeRules.Text(c.Json["metadata"]?["user_id"]), c.Deleted is not null)).ToList();

    /// <summary>The Accounts v2 that exist (not closed): id and the <c>user_id</c> in their metadata.</summary>
    public IReadOnlyList<(string Id, string? UserId)> Accounts => Live(_accounts);

    /// <summary>The customer with <paramref name="id"/> as Stripe holds it (deleted ones too), or null.</summary>
    public JsonObject? Customer(string id) => _customers.TryGetValue(id, out var customer) ? (JsonObject)customer.Json.DeepClone() : null;

    /// <summary>Every webhook delivery attempt so far.</summary>
    public IReadOnlyList<WebhookDelivery> WebhookDeliveries => _webhooks.Deliveries;

    /// <summary>Calls refused for Stripe's rate limit, and the most calls that arrived in any one second.</summary>
    public (long Refused, int MaxArrivedPerSecond) RateLimiting => (_rateLimiter.Refused, _rateLimiter.MaxArrivedPerSecond);

    /// <summary>Starts a real HTTP server on loopback (a free port unless <paramref name="url"/> names one).</summary>
    public static async Task<StripeStandIn> StartAsync(StandInOptions? options = null, string url = "http://127.0.0.1:0")
    {
        options ??= new StandInOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        StripeStandIn? standIn = null;
        var address = new Uri(url);
        // Counts TCP connections, so a test can tell whether the service leaks or hoards them.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(
            address.Host is "+" or "*" or "0.0.0.0" ? IPAddress.Any : IPAddress.Parse(address.Host == "localhost" ? "127.0.0.1" : address.Host),
            address.Port,
            listen => listen.Use(next => async connection =>
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
        var app = builder.Build();
        standIn = new StripeStandIn(app, options, serving: true);
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        standIn.BaseAddress = new UriBuilder(bound) { Host = bound.Host is "0.0.0.0" or "[::]" ? "127.0.0.1" : bound.Host }.Uri;
        return standIn;
    }

    /// <summary>A stand-in without a server: call it through <see cref="CreateHandler"/>.</summary>
    public static StripeStandIn CreateInProcess(StandInOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        return new StripeStandIn(builder.Build(), options ?? new StandInOptions(), serving: false);
    }

    /// <summary>An HttpClient handler that answers every request in this process, as the server would.</summary>
    public HttpMessageHandler CreateHandler() => new InProcessHandler(this, _app.Services);

    /// <summary>
    /// Replaces what the endpoint at <paramref name="path"/> does with <paramref name="answer"/>, which gets the request
    /// and its attempt number (1-based). It runs where Stripe's own work would, inside the idempotency layer: its
    /// answer is stored for the request's key, and a retry with that key gets the replay.
    /// </summary>
    public void Override(string path, Func<StripeRequest, int, Task<IResult>> answer) => _overrides[path] = answer;

    public void Override(string path, Func<StripeRequest, int, IResult> answer) => Override(path, (r, n) => Task.FromResult(answer(r, n)));

    /// <summary>Injects <paramref name="fault"/>: the next calls to its path fail as it says (stored for their keys).</summary>
    public void Inject(Fault fault)
    {
        lock (_faults)
        {
            _faults.Add(new FaultState(fault));
        }
    }

    /// <summary>What the endpoint does without an override: for overrides that only sometimes interfere.</summary>
    public IResult Default(StripeRequest request) => new AnswerResult(Execute(request));

    /// <summary>Clears overrides, faults and the recorded requests. What Stripe holds (customers, keys) stays.</summary>
    public void Reset()
    {
        _overrides.Clear();
        _attempts.Clear();
        _requests.Clear();
        lock (_faults)
        {
            _faults.Clear();
        }
    }

    /// <summary>
    /// As if deleted in the Dashboard: sessions for the customer now fail with <c>resource_missing</c>, and the
    /// configured destination receives a signed <c>customer.deleted</c> (for an Account v2: it is closed, and
    /// <c>v2.core.account.closed</c> is sent).
    /// </summary>
    public bool DeleteCustomer(string id)
    {
        var now = Options.Time.GetUtcNow();
        if (_customers.TryGetValue(id, out var customer) && customer.TryDelete(now))
        {
            SaveState();
            _webhooks.CustomerDeleted(customer.Json);
            return true;
        }

        if (_accounts.TryGetValue(id, out var account) && account.TryDelete(now))
        {
            SaveState();
            _webhooks.AccountClosed(id);
            return true;
        }

        return false;
    }

    /// <summary>Until the process is asked to stop (SIGTERM, Ctrl+C): the program's main loop.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Waits for the webhook deliveries started so far to end.</summary>
    public Task WhenWebhooksDeliveredAsync() => _webhooks.WhenDeliveredAsync();

    public static IResult Error(int status, string type, string? code = null, string message = "An error occurred.", string? param = null) =>
        new AnswerResult(Json(status, new StripeError(status, type, code, message, param).ToJson()));

    /// <summary>A customer session as Stripe answers one, for <paramref name="customer"/>, expiring in 30 minutes.</summary>
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

    public async ValueTask DisposeAsync()
    {
        if (_serving)
        {
            await _app.StopAsync();
        }

        await _app.DisposeAsync();
        _webhooks.Dispose();
    }

    /// <summary>Every request, served or in process: the control API, the telemetry sink, or Stripe's API.</summary>
    internal async Task HandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        if (path.StartsWith("/__standin/", StringComparison.Ordinal))
        {
            await ControlAsync(http, path);
            return;
        }

        if (http.Request.Method == "POST" && path is "/v1/traces" or "/v1/metrics" or "/v1/logs" && http.Request.ContentType == "application/x-protobuf")
        {
            // The benchmark's telemetry sink (TELEMETRY=1): OTLP/HTTP taken, counted and dropped.
            using var sink = new MemoryStream();
            await http.Request.Body.CopyToAsync(sink);
            Interlocked.Add(ref _otlpBytes, sink.Length);
            http.Response.ContentType = "application/x-protobuf";
            return;
        }

        var request = await ReadAsync(http, path);
        Record(request);
        var answer = await AnswerAsync(request);
        request.Status = answer.Drop ? 0 : answer.Status;
        if (answer.Drop)
        {
            http.Abort();
            return;
        }

        http.Response.StatusCode = answer.Status;
        http.Response.ContentType = "application/json";
        http.Response.Headers["Request-Id"] = "req_" + RandomId(14);
        foreach (var (name, value) in answer.Headers)
        {
            http.Response.Headers.Append(name, value);
        }

        await http.Response.Body.WriteAsync(answer.Body, http.RequestAborted);
    }

    private static async Task<StripeRequest> ReadAsync(HttpContext http, string path)
    {
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Dictionary<string, string> form;
        JsonObject? json = null;
        if (http.Request.HasFormContentType)
        {
            form = (await http.Request.ReadFormAsync(http.RequestAborted)).ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        }
        else
        {
            form = http.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
            if (http.Request.HasJsonContentType())
            {
                try
                {
                    json = (await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted)) as JsonObject;
                }
                catch (JsonException)
                {
                    json = null;
                }
            }
        }

        return new StripeRequest(http.Request.Method, path, form, headers, json);
    }

    private void Record(StripeRequest request)
    {
        _requests.Enqueue(request);
        while (_requests.Count > Options.MaxRecordedRequests && _requests.TryDequeue(out _))
        {
        }

        Interlocked.Increment(ref _requestsHandled);
        Interlocked.Increment(ref s_requestsToAnyStandIn);
    }

    /// <summary>Stripe's order: the key, the rate limit, the route, the idempotency layer, the parameters, then the work.</summary>
    private async Task<StandInAnswer> AnswerAsync(StripeRequest request)
    {
        var auth = request.Headers.GetValueOrDefault("Authorization") ?? "";
        var key = auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : "";
        if (!ApiKey().IsMatch(key))
        {
            // Stripe's message quotes the key, all but its last four characters masked.
            var shown = key.Length > 12 ? key[..8] + new string('*', 4) + key[^4..] : "";
            return Json(401, new StripeError(401, "invalid_request_error", null, $"Invalid API Key provided: {shown}").ToJson());
        }

        var route = Route(request.Method, request.Path);
        var live = key.Contains("_live_", StringComparison.Ordinal);
        if (_rateLimiter.Refuse(AccountOf(key), live, route ?? "unknown", route == "customers.search") is { } reason)
        {
            return Json(429, StripeError.Invalid("rate_limit", "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.", null).ToJson())
                .With("Stripe-Rate-Limited-Reason", reason)
                .With("Stripe-Should-Retry", Options.RateLimits.ShouldRetry ? "true" : "false");
        }

        if (route is null)
        {
            return Json(404, StripeError.Invalid(null, $"Unrecognized request URL ({request.Method}: {request.Path}).", null).ToJson());
        }

        var v2 = request.Path.StartsWith("/v2/", StringComparison.Ordinal);
        if (request.Method == "GET")
        {
            if (Validate(route, request) is { } invalid)
            {
                return Json(invalid.Status, invalid.ToJson());
            }

            await LatencyAsync();
            return Execute(request);
        }

        // Stripe.net sends a key with every POST and DELETE; without one there is nothing to replay.
        var idempotencyKey = request.IdempotencyKey;
        if (idempotencyKey is null)
        {
            return Validate(route, request) is { } invalid ? Json(invalid.Status, invalid.ToJson()) : await ExecuteOrInjectAsync(request, v2);
        }

        if (idempotencyKey.Length > StripeRules.MaxIdempotencyKeyLength)
        {
            return Json(400, StripeError.Invalid("idempotency_key_too_long", $"Idempotency keys can be at most {StripeRules.MaxIdempotencyKeyLength} characters long.", null).ToJson());
        }

        var begun = _idempotency.Begin(AccountOf(key), idempotencyKey, Fingerprint(request), v2);
        switch (begun.Kind)
        {
            case IdempotencyStore.OutcomeKind.Replay:
                request.Replayed = true;
                // A dropped connection is the network's doing, not Stripe's: it can take a replay's answer too.
                return begun.Answer!.With("Idempotent-Replayed", "true") with { Drop = TakeFault(request.Path, FaultMode.Drop) is not null };
            case IdempotencyStore.OutcomeKind.Mismatch:
                return Json(400, new StripeError(400, "idempotency_error", null,
                    $"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{idempotencyKey}' if you meant to execute a different request.").ToJson());
            case IdempotencyStore.OutcomeKind.InFlight:
                return Json(409, new StripeError(409, "idempotency_error", "idempotency_key_in_use",
                    "There is currently another in-progress request using this Idempotency-Key. Please try again later.").ToJson());
        }

        StandInAnswer? stored = null;
        try
        {
            if (Validate(route, request) is { } invalid)
            {
                return Json(invalid.Status, invalid.ToJson()); // not executed: nothing stored
            }

            var (answer, done) = await ExecuteOrInjectWithEffectAsync(request, v2);
            // v1 keeps whatever the endpoint answered once it ran (but a 409 or 429 it never got to run);
            // v2 keeps only the work done, so a retry finishes what a failure left undone.
            stored = v2 || answer.Drop ? done : Storable(answer) ? answer : null;
            return answer;
        }
        finally
        {
            _idempotency.Complete(begun.Id!, stored);
        }
    }

    private static bool Storable(StandInAnswer answer) => answer.Status is not (401 or 409 or 429);

    private async Task<StandInAnswer> ExecuteOrInjectAsync(StripeRequest request, bool v2) => (await ExecuteOrInjectWithEffectAsync(request, v2)).Answer;

    /// <summary>The endpoint's work (or an override, or an injected fault), and the answer its work alone would give.</summary>
    private async Task<(StandInAnswer Answer, StandInAnswer? Done)> ExecuteOrInjectWithEffectAsync(StripeRequest request, bool v2)
    {
        await LatencyAsync();
        if (_overrides.TryGetValue(request.Path, out var replace))
        {
            var attempt = _attempts.AddOrUpdate(request.Path, 1, (_, n) => n + 1);
            var answer = await CaptureAsync(await replace(request, attempt));
            return (answer, answer.Status < 500 ? answer : null);
        }

        if (TakeFault(request.Path) is not { } fault)
        {
            var answer = Execute(request);
            return (answer, answer);
        }

        var failure = Json(fault.Status, new StripeError(fault.Status, fault.Type, fault.Code, fault.Message).ToJson());
        switch (fault.Mode)
        {
            case FaultMode.After:
                return (failure, Execute(request));
            case FaultMode.Drop:
                var done = Execute(request);
                return (done with { Drop = true }, done);
            default:
                return (failure, null);
        }
    }

    /// <summary>
    /// The time Stripe takes, inside the work: a caller that gives up meanwhile does not stop it (Stripe finishes and
    /// stores the answer), and a retry under the same key meanwhile is a 409. Real time, whatever clock
    /// <see cref="StandInOptions.Time"/> is: that clock says what Stripe remembers, not how long a call takes.
    /// </summary>
    private async Task LatencyAsync()
    {
        if (Options.Latency > TimeSpan.Zero)
        {
            await Task.Delay(Options.Latency, CancellationToken.None);
        }
    }

    private Fault? TakeFault(string path, FaultMode? mode = null)
    {
        lock (_faults)
        {
            var state = _faults.FirstOrDefault(f => f.Fault.Path == path && f.Left > 0 && (mode is null || f.Fault.Mode == mode));
            if (state is null)
            {
                return null;
            }

            state.Left--;
            return state.Fault;
        }
    }

    private static string? Route(string method, string path) => (method, path) switch
    {
        ("POST", "/v1/customers") => "customers.create",
        ("GET", "/v1/customers/search") => "customers.search",
        ("GET", _) when IdAfter(path, "/v1/customers/") is not null => "customers.retrieve",
        ("DELETE", _) when IdAfter(path, "/v1/customers/") is not null => "customers.delete",
        ("POST", "/v1/customer_sessions") => "customer_sessions.create",
        ("POST", "/v2/core/accounts") => "accounts.create",
        ("GET", _) when IdAfter(path, "/v2/core/accounts/") is not null => "accounts.retrieve",
        ("POST", _) when path.EndsWith("/close", StringComparison.Ordinal) && IdAfter(path[..^"/close".Length], "/v2/core/accounts/") is not null => "accounts.close",
        _ => null,
    };

    private static string? IdAfter(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && path[prefix.Length..] is { Length: > 0 } id && !id.Contains('/', StringComparison.Ordinal) ? id : null;

    private static StripeError? Validate(string route, StripeRequest request)
    {
        if (request.Json is null && request.Path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            var tree = StripeParams.Tree(request.Form, out var badName);
            if (tree is null)
            {
                return StripeError.Invalid("parameter_invalid", $"Invalid parameter name: {badName}", badName);
            }

            return route switch
            {
                "customers.create" => StripeRules.Customer(tree),
                "customer_sessions.create" => StripeRules.CustomerSession(tree),
                "customers.search" => StripeRules.SearchQuery(StripeRules.Text(tree["query"])) is null
                    ? StripeError.Invalid("parameter_invalid", "Invalid search query.", "query")
                    : null,
                _ => null,
            };
        }

        return route == "accounts.create" ? StripeRules.Account(request.Json) : null;
    }

    /// <summary>
    /// The account a key belongs to: its mode and secret part, so a secret and a restricted key of one account share
    /// it (<c>sk_test_X</c>, <c>rk_test_X</c>), and another key's customers, sessions and idempotency keys are not its.
    /// </summary>
    private static string AccountOf(string apiKey) => apiKey.Length > 3 ? apiKey[3..] : apiKey;

    private static string AccountOf(StripeRequest request) =>
        AccountOf(request.Headers.GetValueOrDefault("Authorization") is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : "");

    /// <summary>The endpoint's own work, after validation.</summary>
    private StandInAnswer Execute(StripeRequest request)
    {
        var route = Route(request.Method, request.Path);
        var tree = request.Json ?? StripeParams.Tree(request.Form, out _) ?? [];
        var account = AccountOf(request);
        return route switch
        {
            "customers.create" => CreateCustomer(account, tree),
            "customers.search" => SearchCustomers(account, tree),
            "customers.retrieve" => RetrieveCustomer(account, IdAfter(request.Path, "/v1/customers/")!),
            "customers.delete" => DeleteCustomerCall(account, IdAfter(request.Path, "/v1/customers/")!),
            "customer_sessions.create" => CreateSession(account, tree),
            "accounts.create" => CreateAccount(account, tree),
            "accounts.retrieve" => RetrieveAccount(account, IdAfter(request.Path, "/v2/core/accounts/")!),
            "accounts.close" => CloseAccount(account, IdAfter(request.Path[..^"/close".Length], "/v2/core/accounts/")!),
            _ => Json(404, StripeError.Invalid(null, $"Unrecognized request URL ({request.Method}: {request.Path}).", null).ToJson()),
        };
    }

    private StandInAnswer CreateCustomer(string owner, JsonObject form)
    {
        var now = Options.Time.GetUtcNow();
        var customer = Fixtures.Customer();
        var id = "cus_" + RandomId(14);
        customer["id"] = id;
        customer["created"] = now.ToUnixTimeSeconds();
        customer["email"] = form["email"]?.DeepClone();
        customer["name"] = form["name"]?.DeepClone();
        customer["description"] = form["description"]?.DeepClone();
        customer["discount"] = null;
        customer["metadata"] = form["metadata"]?.DeepClone() ?? new JsonObject();
        _customers[id] = new StoredObject(id, owner, customer, now);
        Interlocked.Increment(ref _customersCreated);
        SaveState();
        return Json(200, customer);
    }

    /// <summary>Customer search: only what was indexed at least <see cref="StandInOptions.SearchLag"/> ago.</summary>
    private StandInAnswer SearchCustomers(string owner, JsonObject query)
    {
        var clauses = StripeRules.SearchQuery(StripeRules.Text(query["query"]))!;
        var asOf = Options.Time.GetUtcNow() - Options.SearchLag;
        var found = _customers.Values
            .Where(c => c.Account == owner && c.Created <= asOf && (c.Deleted is null || c.Deleted > asOf))
            .Where(c => clauses.All(clause => clause.Field switch
            {
                "email" => StripeRules.Text(c.Json["email"]) == clause.Value,
                "name" => StripeRules.Text(c.Json["name"]) == clause.Value,
                _ => StripeRules.Text(c.Json["metadata"]?[clause.Field["metadata.".Length..]]) == clause.Value,
            }))
            .OrderByDescending(c => c.Created)
            .Select(c => c.Json.DeepClone())
            .ToArray();
        return Json(200, new JsonObject
        {
            ["object"] = "search_result",
            ["data"] = new JsonArray(found),
            ["has_more"] = false,
            ["next_page"] = null,
            ["url"] = "/v1/customers/search",
        });
    }

    private StandInAnswer RetrieveCustomer(string owner, string id) => _customers.TryGetValue(id, out var customer) && customer.Account == owner
        ? Json(200, customer.Deleted is null ? customer.Json : new JsonObject { ["id"] = id, ["object"] = "customer", ["deleted"] = true })
        : NotFound("customer", id);

    private StandInAnswer DeleteCustomerCall(string owner, string id)
    {
        if (!_customers.TryGetValue(id, out var customer) || customer.Account != owner || customer.Deleted is not null)
        {
            return NotFound("customer", id);
        }

        DeleteCustomer(id);
        return Json(200, new JsonObject { ["id"] = id, ["object"] = "customer", ["deleted"] = true });
    }

    private StandInAnswer CreateSession(string owner, JsonObject form)
    {
        var customer = StripeRules.Text(form["customer"]);
        var account = StripeRules.Text(form["customer_account"]);
        if (customer is not null && (!_customers.TryGetValue(customer, out var c) || c.Account != owner || c.Deleted is not null))
        {
            return Json(400, StripeError.Invalid("resource_missing", $"No such customer: '{customer}'", "customer").ToJson());
        }

        if (account is not null && (!_accounts.TryGetValue(account, out var a) || a.Account != owner || a.Deleted is not null))
        {
            return Json(400, StripeError.Invalid("resource_missing", $"No such account: '{account}'", "customer_account").ToJson());
        }

        var now = Options.Time.GetUtcNow();
        var session = Fixtures.CustomerSession();
        var secret = "cuss_secret_" + RandomId(47);
        session["client_secret"] = secret;
        session["customer"] = customer;
        session["customer_account"] = account;
        session["created"] = now.ToUnixTimeSeconds();
        session["expires_at"] = (now + Options.SessionLifetime).ToUnixTimeSeconds();
        var asked = form["components"] as JsonObject ?? [];
        foreach (var (component, shown) in session["components"]!.AsObject())
        {
            shown!["enabled"] = StripeRules.Text(asked[component]?["enabled"]) == "true";
            if (asked[component]?["features"] is JsonObject features && shown["features"] is JsonObject answered)
            {
                foreach (var (feature, value) in features)
                {
                    answered[feature] = feature == "payment_method_redisplay_limit"
                        ? int.Parse(StripeRules.Text(value)!, System.Globalization.CultureInfo.InvariantCulture)
                        : value?.DeepClone();
                }
            }
        }

        _issuedSecrets.Enqueue(secret);
        Interlocked.Increment(ref _sessionsCreated);
        return Json(200, session);
    }

    private StandInAnswer CreateAccount(string owner, JsonObject body)
    {
        var now = Options.Time.GetUtcNow();
        var id = "acct_" + RandomId(16);
        var account = new JsonObject
        {
            ["id"] = id,
            ["object"] = "v2.core.account",
            ["applied_configurations"] = new JsonArray("customer"),
            ["contact_email"] = body["contact_email"]?.DeepClone(),
            ["display_name"] = body["display_name"]?.DeepClone(),
            ["metadata"] = body["metadata"]?.DeepClone() ?? new JsonObject(),
            ["created"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            ["livemode"] = false,
        };
        _accounts[id] = new StoredObject(id, owner, account, now);
        SaveState();
        return Json(200, account);
    }

    private StandInAnswer RetrieveAccount(string owner, string id) => _accounts.TryGetValue(id, out var account) && account.Account == owner
        ? Json(200, account.Json)
        : NotFound("account", id);

    private StandInAnswer CloseAccount(string owner, string id)
    {
        if (!_accounts.TryGetValue(id, out var account) || account.Account != owner || account.Deleted is not null)
        {
            return NotFound("account", id);
        }

        DeleteCustomer(id);
        var closed = (JsonObject)account.Json.DeepClone();
        closed["closed"] = true;
        return Json(200, closed);
    }

    private static StandInAnswer NotFound(string kind, string id) =>
        Json(404, StripeError.Invalid("resource_missing", $"No such {kind}: '{id}'", "id").ToJson());

    internal static StandInAnswer Json(int status, JsonNode body) => new(status, JsonSerializer.SerializeToUtf8Bytes(body, Relaxed), []);

    /// <summary>Stripe writes quotes and non-ASCII as they are, not as \u escapes.</summary>
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Method, path and parameters, in a form where equal requests are equal strings (Stripe compares the parameters).</summary>
    private static string Fingerprint(StripeRequest request)
    {
        var builder = new StringBuilder(request.Method).Append(' ').Append(request.Path).Append('\n');
        if (request.Json is not null)
        {
            Canonical(request.Json, builder);
        }
        else
        {
            foreach (var (name, value) in request.Form.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                builder.Append(name).Append('=').Append(value).Append('&');
            }
        }

        return builder.ToString();
    }

    private static void Canonical(JsonNode? node, StringBuilder builder)
    {
        switch (node)
        {
            case JsonObject obj:
                builder.Append('{');
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    builder.Append(JsonSerializer.Serialize(name)).Append(':');
                    Canonical(value, builder);
                    builder.Append(',');
                }

                builder.Append('}');
                break;
            case JsonArray array:
                builder.Append('[');
                foreach (var item in array)
                {
                    Canonical(item, builder);
                    builder.Append(',');
                }

                builder.Append(']');
                break;
            default:
                builder.Append(node?.ToJsonString() ?? "null");
                break;
        }
    }

    /// <summary>What an override's result writes: status, headers and body, so it can be stored and replayed.</summary>
    private async Task<StandInAnswer> CaptureAsync(IResult result)
    {
        if (result is AnswerResult known)
        {
            return known.Answer;
        }

        await using var scope = _app.Services.CreateAsyncScope();
        var body = new MemoryStream();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Response.Body = body;
        await result.ExecuteAsync(http);
        var headers = http.Response.Headers
            .Where(h => h.Key is not ("Content-Type" or "Content-Length"))
            .Select(h => KeyValuePair.Create(h.Key, h.Value.ToString()))
            .ToList();
        return new StandInAnswer(http.Response.StatusCode, body.ToArray(), headers);
    }

    private static List<(string Id, string? UserId)> Live(ConcurrentDictionary<string, StoredObject> objects) =>
        objects.Values.Where(o => o.Deleted is null).OrderBy(o => o.Created)
            .Select(o => (o.Id, StripeRules.Text(o.Json["metadata"]?["user_id"]))).ToList();

    internal static string RandomId(int length) =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);

    [System.Text.RegularExpressions.GeneratedRegex("^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")]
    private static partial System.Text.RegularExpressions.Regex ApiKey();

    /// <summary>A customer or account Stripe holds, and when it was made and deleted.</summary>
    private sealed class StoredObject(string id, string account, JsonObject json, DateTimeOffset created)
    {
        private readonly Lock _lock = new();
        private DateTimeOffset? _deleted;

        public string Id { get; } = id;

        /// <summary>The Stripe account it belongs to (<see cref="AccountOf(string)"/>).</summary>
        public string Account { get; } = account;

        public JsonObject Json { get; } = json;

        public DateTimeOffset Created { get; } = created;

        public DateTimeOffset? Deleted
        {
            get
            {
                lock (_lock)
                {
                    return _deleted;
                }
            }
        }

        public bool TryDelete(DateTimeOffset at)
        {
            lock (_lock)
            {
                if (_deleted is not null)
                {
                    return false;
                }

                _deleted = at;
                return true;
            }
        }

        public void Restore(DateTimeOffset? deleted)
        {
            lock (_lock)
            {
                _deleted = deleted;
            }
        }
    }

    private sealed class FaultState(Fault fault)
    {
        public Fault Fault { get; } = fault;

        public int Left { get; set; } = fault.Times;
    }

    /// <summary>An answer already made, as an IResult (for overrides, and <see cref="Default"/>).</summary>
    private sealed class AnswerResult(StandInAnswer answer) : IResult
    {
        public StandInAnswer Answer { get; } = answer;

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = Answer.Status;
            httpContext.Response.ContentType = "application/json";
            foreach (var (name, value) in Answer.Headers)
            {
                httpContext.Response.Headers.Append(name, value);
            }

            await httpContext.Response.Body.WriteAsync(Answer.Body);
        }
    }
}
