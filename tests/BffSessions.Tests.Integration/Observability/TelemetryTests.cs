using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace BffSessions.Tests.Observability;

/// <summary>
/// What an operator sees, read through OpenTelemetry's in-memory exporter: spans for every Stripe call with its
/// operation and request id, the service's own meter, and Serilog's events as log records; and nothing in any of it
/// that names a person, a customer or a secret. The ActivitySources and Meters are process-wide, so these run alone.
/// </summary>
[Collection(RunsAlone.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the host through IAsyncLifetime.DisposeAsync.")]
public sealed class TelemetryTests : StandInTest
{
    private readonly LockedCollection<Activity> _spans = new();
    private readonly LockedCollection<MetricSnapshot> _metrics = new();
    private readonly LockedCollection<LogRecord> _logs = new();
    private ApiFactory _api = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?> { ["Stripe:WebhookSecrets:0"] = WebhookSecret },
            services => services.AddOpenTelemetry()
                .WithTracing(tracing => tracing.AddInMemoryExporter(_spans))
                .WithMetrics(metrics => metrics.AddInMemoryExporter(_metrics))
                .WithLogging(logging => logging.AddInMemoryExporter(_logs)));
        _ = _api.Server;
    }

    public override async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await base.DisposeAsync();
    }

    private const string WebhookSecret = "whsec_telemetry_tests";

    [Fact]
    public async Task Every_Stripe_call_is_a_span_with_its_operation_and_Stripes_request_id_beneath_the_request()
    {
        using var client = _api.CreateClientFor("traced-user");
        var traceId = ActivityTraceId.CreateRandom();
        client.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The Stripe stand-in runs in this process too, so its own server spans join the trace: ours is the route's.
        var spans = await SpansOfTraceAsync(traceId, s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") is "/api/customer-sessions");
        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") is "/api/customer-sessions");
        Assert.Equal(server.SpanId, spans.Single(s => s.Source.Name == Telemetry.Name && (string?)s.GetTagItem(StripeMetrics.OperationTag) == "customers.create").ParentSpanId);
        foreach (var operation in new[] { "customers.create", "customer_sessions.create" })
        {
            var call = Assert.Single(spans, s => s.Source.Name == Telemetry.Name && (string?)s.GetTagItem(StripeMetrics.OperationTag) == operation);
            Assert.Equal("ok", call.GetTagItem("bffsessions.stripe.outcome"));
            Assert.Matches("^req_[A-Za-z0-9]{14}$", (string)call.GetTagItem(StripeMetrics.RequestIdTag)!);
            var http = Assert.Single(spans, s => s.Kind == ActivityKind.Client && s.ParentSpanId == call.SpanId);
            Assert.Equal(operation, http.GetTagItem(StripeMetrics.OperationTag));
            Assert.Equal(call.GetTagItem(StripeMetrics.RequestIdTag), http.GetTagItem(StripeMetrics.RequestIdTag));
        }

        Assert.Contains(spans, s => s.Kind == ActivityKind.Client && s.Source.Name.Contains("EntityFrameworkCore", StringComparison.Ordinal)
            || (s.GetTagItem("db.system") ?? s.GetTagItem("db.system.name")) is "sqlite");
    }

    [Fact]
    public async Task A_failed_Stripe_call_is_measured_and_marked_with_its_problem_type()
    {
        using var stripeDuration = Collect<double>("bffsessions.stripe.duration");
        using var client = _api.CreateClientFor("failing-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        Stripe.Override("/v1/customer_sessions", (_, _) => StripeStandIn.Error(500, "api_error"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var byOutcome = stripeDuration.GetMeasurementSnapshot()
            .Select(m => ((string)m.Tags["operation"]!, (string)m.Tags["outcome"]!)).ToList();
        Assert.Contains(("customers.create", "ok"), byOutcome);
        Assert.Contains(("customer_sessions.create", "ok"), byOutcome);
        Assert.Contains(("customer_sessions.create", "stripe-error"), byOutcome);
        Assert.All(stripeDuration.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 30));
    }

    [Fact]
    public async Task The_meter_counts_sessions_by_component_customers_by_reason_rejections_by_problem_and_webhook_events()
    {
        using var sessions = Collect<long>("bffsessions.sessions.created");
        using var customers = Collect<long>("bffsessions.customers.created");
        using var rejected = Collect<long>("bffsessions.requests.rejected");
        using var webhooks = Collect<long>("bffsessions.webhook.events");
        using var client = _api.CreateClientFor("counted-user");

        var customer = await CustomerOfSessionAsync(client, new { components = new { customerSheet = new { enabled = true }, pricingTable = new { enabled = true } } });
        Stripe.DeleteCustomer(customer);
        var body = StripeEvents.CustomerDeleted(customer);
        using var webhook = await StripeEvents.DeliverAsync(_api.CreateApiClient(), body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, WebhookSecret));
        await CustomerOfSessionAsync(client, new { components = new { customerSheet = new { enabled = true } } });
        (await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { } })).Dispose();
        (await _api.CreateApiClient().PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();

        Assert.Equal(["customer_sheet", "customer_sheet", "pricing_table"], Tags(sessions, "component").Order(StringComparer.Ordinal));
        Assert.Equal([("customer", "new"), ("customer", "replaced")], customers.GetMeasurementSnapshot()
            .Select(m => ((string)m.Tags["kind"]!, (string)m.Tags["reason"]!)).Order());
        Assert.Equal(["invalid-request", "unauthorized"], Tags(rejected, "reason").Order(StringComparer.Ordinal));
        Assert.Equal([("customer.deleted", "customer-forgotten")], webhooks.GetMeasurementSnapshot()
            .Select(m => ((string)m.Tags["type"]!, (string)m.Tags["outcome"]!)));
    }

    [Fact]
    public async Task ASP_NET_Core_HttpClient_and_runtime_metrics_are_exported_beside_ours()
    {
        using var client = _api.CreateClientFor("metered-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();

        _api.Services.GetRequiredService<MeterProvider>().ForceFlush();

        var names = _metrics.Snapshot().Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("http.server.request.duration", names);
        Assert.Contains("http.client.request.duration", names);
        Assert.Contains(names, n => n.StartsWith("dotnet.", StringComparison.Ordinal));
        Assert.Contains("bffsessions.sessions.created", names);
        Assert.Contains("bffsessions.stripe.duration", names);
    }

    [Fact]
    public async Task Serilogs_events_are_exported_as_log_records_without_the_user_or_the_customer()
    {
        using var client = _api.CreateClientFor("logged-user");
        var customer = await CustomerOfSessionAsync(client, new { components = new { customerSheet = new { enabled = true } } });
        Stripe.DeleteCustomer(customer);
        await CustomerOfSessionAsync(client, new { components = new { customerSheet = new { enabled = true } } }); // self-heals: a warning

        _api.Services.GetRequiredService<LoggerProvider>().ForceFlush();

        var healed = Assert.Single(_logs.Snapshot(), l => l.Body?.Contains("is gone from Stripe", StringComparison.Ordinal) == true);
        Assert.Equal("Customer {MissingCustomerId} of user {UserId} is gone from Stripe; replaced by {CustomerId}", healed.Body);
        Assert.DoesNotContain(healed.Attributes ?? [], a => a.Key is "UserId" or "CustomerId" or "MissingCustomerId");
        Assert.Contains(_logs.Snapshot(), l => l.Body?.StartsWith("HTTP {RequestMethod} {RequestPath} responded", StringComparison.Ordinal) == true);
    }

    /// <summary>The leak guard, extended to what leaves the process: every span, metric point and log record.</summary>
    [Fact]
    public async Task Nothing_exported_holds_a_secret_a_user_a_customer_or_an_email()
    {
        const string user = "private-person-4711";
        using var bearer = _api.CreateClientFor(user, "private.person@example.com", "Private Person");
        var customer = await CustomerOfSessionAsync(bearer, new { components = new { customerSheet = new { enabled = true } } });
        Stripe.DeleteCustomer(customer);
        var replacement = await CustomerOfSessionAsync(bearer, new { components = new { customerSheet = new { enabled = true } } });
        Stripe.Override("/v1/customer_sessions", (_, _) => StripeStandIn.Error(400, "invalid_request_error", "parameter_unknown",
            $"Received unknown parameter for {replacement}", "x"));
        (await bearer.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        Stripe.Reset();
        var body = StripeEvents.CustomerDeleted(replacement);
        (await StripeEvents.DeliverAsync(_api.CreateApiClient(), body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, WebhookSecret))).Dispose();
        (await bearer.GetAsync("/bff/user?email=private.person@example.com")).Dispose();

        _api.Services.GetRequiredService<TracerProvider>().ForceFlush();
        _api.Services.GetRequiredService<MeterProvider>().ForceFlush();
        _api.Services.GetRequiredService<LoggerProvider>().ForceFlush();

        var exported = new List<string>();
        foreach (var span in _spans.Snapshot())
        {
            exported.Add(span.DisplayName);
            exported.Add(span.StatusDescription ?? "");
            exported.AddRange(span.TagObjects.Select(t => $"{t.Key}={t.Value}"));
            exported.AddRange(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name} {t.Key}={t.Value}")));
        }

        foreach (var metric in _metrics.Snapshot())
        {
            foreach (var point in metric.MetricPoints)
            {
                foreach (var tag in point.Tags)
                {
                    exported.Add($"{metric.Name} {tag.Key}={tag.Value}");
                }
            }
        }

        foreach (var log in _logs.Snapshot())
        {
            exported.Add(log.Body ?? "");
            exported.Add(log.FormattedMessage ?? "");
            exported.Add(log.Exception?.ToString() ?? "");
            exported.AddRange((log.Attributes ?? []).Select(a => $"{a.Key}={a.Value}"));
        }

        Assert.NotEmpty(exported);
        Assert.Empty(Secrets.FoundIn(exported));
        var named = new[] { user, customer, replacement, "private.person@example.com", "Private Person", ApiFactory.StripeKey };
        Assert.DoesNotContain(exported, line => named.Any(id => line.Contains(id, StringComparison.Ordinal)));
    }

    private MetricCollector<T> Collect<T>(string instrument)
        where T : struct => new(_api.Services.GetRequiredService<IMeterFactory>(), Telemetry.Name, instrument);

    private static IEnumerable<string> Tags<T>(MetricCollector<T> collector, string tag)
        where T : struct => collector.GetMeasurementSnapshot().SelectMany(m => Enumerable.Repeat((string)m.Tags[tag]!, (int)Convert.ToInt64(m.Value, System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>The spans of one trace; the server's own ends a moment after the client has its answer, so wait for it.</summary>
    private async Task<List<Activity>> SpansOfTraceAsync(ActivityTraceId traceId, Func<Activity, bool> awaited)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!_spans.Snapshot().Any(s => s.TraceId == traceId && awaited(s)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return _spans.Snapshot().Where(s => s.TraceId == traceId).ToList();
    }

    private static async Task<string> CustomerOfSessionAsync(HttpClient client, object request)
    {
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!;
    }
}

/// <summary>Export is configured the standard way, by OTEL_* settings; without them nothing is collected at all.</summary>
[Collection(RunsAlone.Name)]
public sealed class TelemetryExportTests : StandInTest
{
    [Fact]
    public async Task With_an_OTLP_endpoint_traces_metrics_and_logs_go_to_it_under_the_configured_service_name()
    {
        await using var sink = await OtlpSink.StartAsync();
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "bffsessions-under-test",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=telemetry-test",
        });
        using var client = api.CreateClientFor("exported-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        (await client.GetAsync("/long-" + new string('a', 3000))).Dispose(); // OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT cuts it

        api.Services.GetRequiredService<TracerProvider>().ForceFlush();
        api.Services.GetRequiredService<MeterProvider>().ForceFlush();
        api.Services.GetRequiredService<LoggerProvider>().ForceFlush();

        var received = sink.Received.ToList();
        Assert.Equal(["/v1/logs", "/v1/metrics", "/v1/traces"], received.Select(r => r.Path).Distinct().Order(StringComparer.Ordinal));
        Assert.All(received, r => Assert.Contains("bffsessions-under-test", Encoding.UTF8.GetString(r.Body), StringComparison.Ordinal));
        Assert.Contains(received, r => Encoding.UTF8.GetString(r.Body).Contains("telemetry-test", StringComparison.Ordinal));
        Assert.Contains(received, r => r.Path == "/v1/metrics" && Encoding.UTF8.GetString(r.Body).Contains("bffsessions.sessions.created", StringComparison.Ordinal));
        Assert.Contains(received, r => Encoding.UTF8.GetString(r.Body).Contains(new string('a', 1000), StringComparison.Ordinal));
        Assert.DoesNotContain(received, r => Encoding.UTF8.GetString(r.Body).Contains(new string('a', 1030), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_an_endpoint_or_a_metrics_port_nothing_is_collected()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        _ = api.Server;

        Assert.Null(api.Services.GetService<TracerProvider>());
        Assert.Null(api.Services.GetService<MeterProvider>());
        Assert.Null(api.Services.GetService<LoggerProvider>());
    }

    /// <summary>The API's own port as the metrics port would turn every API request into a 404: start-up says so instead.</summary>
    [Fact]
    public async Task The_API_s_own_port_as_the_metrics_port_stops_start_up()
    {
        var port = FreePort();
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?> { ["Telemetry:MetricsPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        api.UseKestrel(port);

        var failure = Record.Exception(api.StartServer);

        Assert.Contains("Telemetry:MetricsPort is " + port, failure?.ToString() ?? "", StringComparison.Ordinal);
    }

    /// <summary>Prometheus scrapes its own port; the API's port never serves /metrics, whatever the Host header says.</summary>
    [Fact]
    public async Task Metrics_are_served_on_the_metrics_port_alone()
    {
        var metricsPort = FreePort(); // a setting: it must be named before start
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?> { ["Telemetry:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var apiPort = api.StartKestrel().Port;
        using var client = new HttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("scraped-user"));
        (await client.PostAsJsonAsync($"http://localhost:{apiPort}/api/customer-sessions", BffRequests.PricingTable)).Dispose();

        using var scrape = await client.GetAsync($"http://localhost:{metricsPort}/metrics");
        using var onTheApiPort = await client.GetAsync($"http://localhost:{apiPort}/metrics");
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, $"http://localhost:{apiPort}/metrics") { Headers = { Host = $"localhost:{metricsPort}" } };
        using var withAnotherHost = await client.SendAsync(spoofed);
        using var theApiOnTheMetricsPort = await client.GetAsync($"http://localhost:{metricsPort}/health/live");

        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var text = await scrape.Content.ReadAsStringAsync();
        Assert.Contains("bffsessions_sessions_created_total{", text, StringComparison.Ordinal);
        Assert.Contains("bffsessions_stripe_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, onTheApiPort.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, withAnotherHost.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, theApiOnTheMetricsPort.StatusCode);
        Assert.DoesNotContain("scraped-user", text, StringComparison.Ordinal);
    }
}
