using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Demo;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using BffSessions.Api.Webhooks;
using BffSessions.Hosting;

// `dotnet BffSessions.Api.dll migrate`: apply the migrations and exit (a deployment's one-shot step).
if (args is ["migrate", ..])
{
    return await SchemaMigrations.RunCommandAsync(args);
}

var builder = WebApplication.CreateBuilder(args);

builder.StopCleanlyOnSettingsErrors();  // a bad setting: one line naming it, exit code 1
builder.AddRepositorySettings();        // appsettings.json from the repository root, beneath env vars and secrets
builder.AddLogging();                   // Serilog from configuration; request logs without secrets
builder.AddTelemetry();                 // OpenTelemetry over OTLP (OTEL_*), Prometheus on Telemetry:MetricsPort
builder.AddProblemResponses();          // every error is application/problem+json with a urn:bffsessions:problem type
builder.AddRequestLimits();             // 16 KiB bodies, no Server header
builder.AddRateLimits();                // the limiter and its 429 problem; policies come from the features
builder.AddApiDocumentation();          // Swagger UI at /swagger with the bearer scheme
builder.AddDatabase();                  // SQLite or PostgreSQL, migrations, Data Protection keys, health
builder.AddIdentity();                  // bearer tokens or the browser's cookie session; per-user rate limit
builder.AddCrossOriginPolicy();         // Cors:AllowedOrigins, exact origins with credentials
builder.AddPayments();                  // one Stripe.net client on IHttpClientFactory, or the offline stand-in
builder.AddCustomers();                 // user -> Stripe customer: memory cache in front of the database
builder.AddCustomerSessions();          // the one request this service answers: validator, issuer
builder.AddStripeWebhooks();            // POST /stripe/webhook with Stripe:WebhookSecrets: deleted customers leave the map
builder.AddDemoPage();                  // Demo:Enabled

var app = builder.Build();
app.ValidateSettings();                 // every setting checked before anything reads one

app.UseMetricsPort();                   // /metrics on its own port, and nothing else there
app.UseRequestLogging();               // outermost, so it logs the status the client really got
app.UseProblemResponses();
app.UseCors();                          // before the limits, so an allowed page can read their refusals too
app.UseRequestLimits();                 // body size, charset, nosniff, HSTS + HTTPS redirection outside Development
app.UseDemoPage();                      // wwwroot, in Development or with Demo:Enabled
app.UseAuthentication();
app.UseUserInRequestLog();              // the user id on the request's log line
app.UseCsrfHeaderCheck();               // cookie sessions must send X-CSRF: 1 to APIs
app.UseAuthorization();
app.UseRateLimiter();                   // after authentication: limits are per user

app.MapHealth();                        // /health/live and /health/ready
app.MapApiDocumentation();
app.MapBff();
app.MapDemoConfig();
app.MapCustomerSessions();
app.MapStripeWebhooks();

await app.MigrateDatabaseAsync();       // unless Database:MigrateOnStartup=false; serialised across instances
await app.RunAsync();
return 0;
