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

builder.AddServiceDefaults();           // settings, Serilog, OpenTelemetry, problems, limits, CORS, Swagger, health
builder.AddDatabase();                  // SQLite or PostgreSQL, migrations, Data Protection keys
builder.AddIdentity();                  // bearer tokens or the browser's cookie session, kept on the server
builder.AddPayments();                  // one Stripe.net client on IHttpClientFactory, or the offline stand-in
builder.AddCustomers();                 // user -> Stripe customer: memory cache in front of the database
builder.AddCustomerSessions();          // the one request this service answers: validator, issuer, per-user limit
builder.AddStripeWebhooks();            // POST /stripe/webhook with Stripe:WebhookSecrets: deleted customers leave the map
builder.AddDemoPage();                  // Demo:Enabled

var app = builder.Build();

app.UseServiceDefaults();               // settings checked; /metrics port; request log; problems; CORS; body limits
app.UseDemoPage();                      // wwwroot, in Development or with Demo:Enabled
app.UseBff();                           // authentication, the CSRF header rule for cookie sessions, authorization
app.UseRateLimiter();                   // after authentication: limits are per user

app.MapDefaultEndpoints();              // /health/live, /health/ready, Swagger
app.MapBff();
app.MapDemoConfig();
app.MapCustomerSessions();
app.MapStripeWebhooks();

await app.MigrateDatabaseAsync();       // unless Database:MigrateOnStartup=false; serialised across instances
await app.RunAsync();
return 0;
