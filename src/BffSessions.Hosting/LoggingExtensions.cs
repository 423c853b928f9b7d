using Serilog;
using Serilog.Events;

namespace BffSessions.Hosting;

/// <summary>What a feature adds to the request's log line as the request ends (the user it was for, say).</summary>
public interface IRequestLogEnricher
{
    void Enrich(IDiagnosticContext diagnostics, HttpContext http);
}

public static class LoggingExtensions
{
    /// <summary>The request line's template. Features add properties to it through <see cref="IDiagnosticContext"/>.</summary>
    public const string RequestMessageTemplate = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms";

    /// <summary>The request line's user id (Identity adds it): the Development console shows it, as it shows Stripe's request id (StripeRequestId).</summary>
    public const string UserIdProperty = "UserId";

    public static IHostApplicationBuilder AddLogging(this IHostApplicationBuilder builder)
    {
        // Configured inside AddSerilog, not as a frozen bootstrap logger, so WebApplicationFactory can
        // build the host many times (serilog-aspnetcore #251); each host keeps its own logger rather than
        // the static Log.Logger, so hosts side by side do not steal each other's events. ReadFrom.Services
        // picks up sinks that tests register.
        // Serilog also hands every event to the logging providers, where OpenTelemetry's exports it over OTLP
        // (Telemetry). Those are the only providers: the framework's console would print each line a second time.
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(
            (services, logger) => logger
                .ReadFrom.Configuration(builder.Configuration)
                .ReadFrom.Services(services)
                // Last, so it sees every property the others add: no text from outside reaches a sink uncleaned.
                .Enrich.With<CleanTextEnricher>(),
            preserveStaticLogger: true,
            writeToProviders: true);
        return builder;
    }

    /// <summary>
    /// One line per request: method, route, status and elapsed time, plus what features add to Serilog's
    /// <see cref="IDiagnosticContext"/> (the user id, Stripe's request id). Bodies, headers and query strings are
    /// never logged: they carry tokens and client secrets.
    /// </summary>
    public static WebApplication UseRequestLogging(this WebApplication app)
    {
        app.UseSerilogRequestLogging(options =>
        {
            options.Logger = app.Services.GetRequiredService<Serilog.ILogger>();
            options.MessageTemplate = RequestMessageTemplate;
            options.IncludeQueryInRequestPath = false;
            // The path is the client's text: cut, and without the control characters that would forge a line.
            options.GetMessageTemplateProperties = (http, path, elapsed, status) =>
            [
                new LogEventProperty("RequestMethod", new ScalarValue(http.Request.Method)),
                new LogEventProperty("RequestPath", new ScalarValue(LogValues.Text(path))),
                new LogEventProperty("StatusCode", new ScalarValue(status)),
                new LogEventProperty("Elapsed", new ScalarValue(elapsed)),
            ];
            var enrichers = app.Services.GetServices<IRequestLogEnricher>().ToArray();
            options.EnrichDiagnosticContext = (diagnostics, http) =>
            {
                if (http.GetEndpoint() is RouteEndpoint route)
                {
                    diagnostics.Set("Route", route.RoutePattern.RawText);
                }

                foreach (var enricher in enrichers)
                {
                    enricher.Enrich(diagnostics, http);
                }
            };
        });
        return app;
    }
}
