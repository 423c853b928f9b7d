using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace BffSessions.Hosting;

/// <summary>The <c>Telemetry</c> section; the rest is OpenTelemetry's own <c>OTEL_*</c> settings.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>A port of its own for Prometheus' <c>/metrics</c>; 0 = none. The API's port never serves it.</summary>
    [Range(0, 65535)]
    public int MetricsPort { get; set; }
}

/// <summary>
/// OpenTelemetry the standard way (eShop's ServiceDefaults): traces, metrics and logs are exported over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the SDK reads <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>,
/// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c> and the sampler settings itself), metrics also as
/// Prometheus text on <see cref="TelemetryOptions.MetricsPort"/>. With neither, nothing is collected at all. Features
/// add their spans and instruments to <see cref="Name"/>, and enrich the instrumentation's spans through its options.
/// </summary>
public static partial class Telemetry
{
    /// <summary>The service's ActivitySource and Meter.</summary>
    public const string Name = "BffSessions";

    public static readonly ActivitySource Source = new(Name);

    /// <summary>Log and span attributes that could name a person or a customer: never exported.</summary>
    private static readonly HashSet<string> PrivateAttributes = new(StringComparer.Ordinal)
    {
        "UserId", "CustomerId", "MissingCustomerId", "Email", "Origin",
    };

    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ServiceMetrics>();
        var telemetry = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

        // What to collect, declared whether or not anything exports: tests add an in-memory exporter to the same.
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing
            .AddSource(Name)
            .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = http =>
                !http.Request.Path.StartsWithSegments("/health") && (telemetry.MetricsPort == 0 || http.Connection.LocalPort != telemetry.MetricsPort))
            // Features enrich the HTTP client's spans through HttpClientTraceInstrumentationOptions (Payments: Stripe's).
            .AddHttpClientInstrumentation());
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddRuntimeInstrumentation()
            .AddMeter(Name));
        builder.Services.ConfigureOpenTelemetryLoggerProvider(logging => logging.AddProcessor(new DropPrivateAttributes()));

        // Whether: only where something exports. The builder's overload names the service after the application
        // (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it).
        var openTelemetry = builder.AddOpenTelemetry();
        if (otlp)
        {
            openTelemetry.WithTracing().WithLogging();
        }

        if (otlp || telemetry.MetricsPort != 0)
        {
            openTelemetry.WithMetrics(metrics =>
            {
                if (telemetry.MetricsPort != 0)
                {
                    metrics.AddPrometheusExporter();
                }
            });
        }

        if (otlp)
        {
            openTelemetry.UseOtlpExporter();
        }

        if (telemetry.MetricsPort != 0)
        {
            builder.Services.AddSingleton<IStartupFilter>(new MetricsPortListener(telemetry.MetricsPort));
        }

        return builder;
    }

    /// <summary>
    /// For background work (cleanups, heartbeats, polls): no spans within, so that an instance's quiet hours are not a
    /// root trace every second. Dispose to end.
    /// </summary>
    public static IDisposable Unobserved() => OpenTelemetry.SuppressInstrumentationScope.Begin();

    /// <summary>
    /// First in the pipeline: on the metrics port, <c>/metrics</c> and nothing else; elsewhere, never <c>/metrics</c>. The
    /// port is told apart by the connection's local port, which a client cannot fake (a Host header it can).
    /// </summary>
    public static WebApplication UseMetricsPort(this WebApplication app)
    {
        var port = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TelemetryOptions>>().Value.MetricsPort;
        if (port == 0)
        {
            return app;
        }

        app.MapWhen(http => http.Connection.LocalPort == port, metrics =>
        {
            metrics.Use((http, next) =>
            {
                // Scrapes are not the service's traffic: keep them out of its request metrics.
                if (http.Features.Get<IHttpMetricsTagsFeature>() is { } tags)
                {
                    tags.MetricsDisabled = true;
                }

                return next(http);
            });
            metrics.UseOpenTelemetryPrometheusScrapingEndpoint();
            metrics.Run(http =>
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        });
        return app;
    }

    /// <summary>
    /// Adds the metrics port to the addresses the server was going to listen on anyway (ASPNETCORE_HTTP_PORTS,
    /// --urls …), rather than replacing them as configuring Kestrel's endpoints in code would. The API's own port is
    /// refused (every request there would get /metrics' 404); where no address can be added, a warning says so.
    /// </summary>
    private sealed partial class MetricsPortListener(int port) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var addresses = app.ApplicationServices.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            if (addresses?.Any(address => BindingAddress.Parse(address).Port == port) == true)
            {
                throw new SettingsException($"Telemetry:MetricsPort is {port}, a port the API itself listens on: pick another (the API's port never serves /metrics).");
            }

            if (addresses is { IsReadOnly: false, Count: > 0 })
            {
                // Where the API listens on loopback alone, so does /metrics.
                var loopbackOnly = addresses.All(address => BindingAddress.Parse(address).Host is "localhost" or "127.0.0.1" or "[::1]");
                addresses.Add(loopbackOnly ? $"http://127.0.0.1:{port}" : $"http://*:{port}");
            }
            else
            {
                LogNotListening(app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Telemetry)), port);
            }

            next(app);
        };

        [LoggerMessage(EventId = 1301, Level = LogLevel.Warning,
            Message = "Telemetry:MetricsPort {Port} is not listened on: the server's addresses come from Kestrel's own configuration; add an endpoint for that port there")]
        private static partial void LogNotListening(ILogger logger, int port);
    }

    /// <summary>
    /// Every Serilog property reaches the exported log record as an attribute: those that could name a person or a
    /// customer are dropped before any exporter sees them. (The record's body is the message template, not its text.)
    /// </summary>
    private sealed class DropPrivateAttributes : BaseProcessor<LogRecord>
    {
        public override void OnEnd(LogRecord data)
        {
            if (data.Attributes is { } attributes && attributes.Any(a => PrivateAttributes.Contains(a.Key)))
            {
                data.Attributes = attributes.Where(a => !PrivateAttributes.Contains(a.Key)).ToList();
            }
        }
    }
}

/// <summary>
/// The instrument every feature shares, on the <see cref="Telemetry.Name"/> meter: requests turned away, by problem. Each
/// feature declares its own instruments on the same meter (sessions, Stripe calls, customers, webhook events, the
/// budget). Every tag value comes from a closed set (a problem type's name): never a user, a customer or a secret.
/// </summary>
public sealed class ServiceMetrics
{
    private readonly Counter<long> _rejected;

    public ServiceMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.Name);
        _rejected = meter.CreateCounter<long>("bffsessions.requests.rejected", "{request}",
            "Requests turned away, by the problem type's name (invalid-body, rate-limited, csrf-header-missing, stripe-busy, …).");
    }

    public void RequestRejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
