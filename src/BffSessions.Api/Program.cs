using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Customers;
using BffSessions.Api.Demo;
using BffSessions.Api.Hosting;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;

var builder = WebApplication.CreateBuilder(args);

builder.AddRepositorySettings();        // appsettings.json from the repository root, beneath env vars and secrets
builder.AddLogging();                   // Serilog from configuration; request logs without secrets
builder.AddProblemResponses();          // every error is application/problem+json
builder.AddRequestLimits();             // 16 KiB bodies, no Server header
builder.AddRateLimits();                // per-user token bucket; RateLimiting:*
builder.AddApiDocumentation();          // Swagger UI at /swagger with the bearer scheme
builder.AddIdentity();                  // bearer tokens, or the browser's cookie session from /bff/login
builder.AddCrossOriginPolicy();         // Cors:AllowedOrigins, exact origins with credentials
builder.AddPayments();                  // one Stripe.net client on IHttpClientFactory, or the offline stand-in
builder.AddCustomers();                 // user -> Stripe customer: memory cache, SQLite or PostgreSQL, migrations
builder.AddCustomerSessions();          // the validator for the one request this service answers

var app = builder.Build();

app.UseRequestLogging();               // outermost, so it logs the status the client really got
app.UseProblemResponses();
app.UseRequestLimits();                 // body size, nosniff, HSTS + HTTPS redirection outside Development
app.UseDemoPage();                      // wwwroot, in Development or with Demo:Enabled
app.UseCors();
app.UseAuthentication();
app.UseCsrfHeaderCheck();               // cookie sessions must send X-CSRF: 1 to APIs
app.UseAuthorization();
app.UseRateLimiter();                   // after authentication: limits are per user

app.MapHealth();                        // /health/live and /health/ready
app.MapApiDocumentation();
app.MapBff();
app.MapDemoConfig();
app.MapCustomerSessions();

await app.MigrateCustomersAsync();
await app.RunAsync();
