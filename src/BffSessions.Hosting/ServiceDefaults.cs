namespace BffSessions.Hosting;

/// <summary>
/// What every service of ours has, in the manner of eShop's ServiceDefaults: settings that stop the start cleanly
/// when wrong, Serilog, OpenTelemetry, problem responses, request and rate limits, CORS, Swagger and health. The
/// features add what is theirs to each (a problem kind, a rate-limit policy, a meter, a log property).
/// </summary>
public static class ServiceDefaults
{
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.StopCleanlyOnSettingsErrors();  // a bad setting: one line naming it, exit code 1
        builder.AddRepositorySettings();        // appsettings.json from the repository root, beneath env vars and secrets
        builder.AddLogging();                   // Serilog from configuration; request logs without secrets
        builder.AddTelemetry();                 // OpenTelemetry over OTLP (OTEL_*), Prometheus on Telemetry:MetricsPort
        builder.AddProblemResponses();          // every error is application/problem+json with a urn:bffsessions:problem type
        builder.AddRequestLimits();             // 16 KiB bodies, no Server header
        builder.AddRateLimits();                // the limiter and its 429 problem; policies come from the features
        builder.AddCrossOriginPolicy();         // Cors:AllowedOrigins, exact origins with credentials
        builder.AddApiDocumentation();          // Swagger UI at /swagger with the bearer scheme
        builder.Services.AddHealthChecks();     // the features add their checks
        return builder;
    }

    /// <summary>The start of every request's way: settings are checked first, then each request meets these in this order.</summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.ValidateSettings();                 // every setting checked before anything reads one
        app.UseMetricsPort();                   // /metrics on its own port, and nothing else there
        app.UseRequestLogging();                // outermost, so it logs the status the client really got
        app.UseProblemResponses();
        app.UseCrossOrigin();                   // before the limits, so an allowed page can read their refusals too
        app.UseRequestLimits();                 // body size, charset, nosniff, HSTS + HTTPS redirection outside Development
        return app;
    }

    /// <summary>/health/live, /health/ready, and Swagger where it is on.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealth();
        app.MapApiDocumentation();
        return app;
    }
}
