// The benchmark's reference (s): the endpoint a .NET team would write instead of running BffSessions. The web
// template's builder, JWT bearer validation with the same issuer, audience and key as the service, Stripe.net's typed
// customer and customer-session services, a dictionary for the user -> customer map, and nothing else: no validation
// beyond binding, no cookie sessions, CSRF, rate limits, database, problem contract, logging or telemetry.
using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using Stripe;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var signingKey = Convert.FromBase64String(builder.Configuration["BARE_SIGNING_KEY"] ?? throw new InvalidOperationException("BARE_SIGNING_KEY is required"));
builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
{
    options.MapInboundClaims = false;
    options.TokenValidationParameters = new TokenValidationParameters
    {
        ValidIssuer = "bench",
        ValidAudience = "bench",
        IssuerSigningKey = new SymmetricSecurityKey(signingKey),
    };
});
builder.Services.AddAuthorization();
builder.Services.AddSingleton<IStripeClient>(new StripeClient(
    apiKey: builder.Configuration["BARE_STRIPE_KEY"] ?? "sk_test_benchmark",
    httpClient: new SystemNetHttpClient(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })),
    apiBase: builder.Configuration["BARE_STRIPE_API_BASE"] ?? "http://127.0.0.1:12190"));

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

var customers = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);

app.MapPost("/api/customer-sessions", async (SessionRequest request, ClaimsPrincipal user, IStripeClient stripe, CancellationToken cancel) =>
{
    var userId = user.FindFirstValue("sub")!;
    if (!customers.TryGetValue(userId, out var customerId))
    {
        var customer = await new CustomerService(stripe).CreateAsync(new CustomerCreateOptions
        {
            Email = user.FindFirstValue("email"),
            Metadata = new Dictionary<string, string> { ["user_id"] = userId },
        }, cancellationToken: cancel);
        customerId = customers.GetOrAdd(userId, customer.Id);
    }

    var components = request.Components;
    var session = await new CustomerSessionService(stripe).CreateAsync(new CustomerSessionCreateOptions
    {
        Customer = customerId,
        Components = new CustomerSessionComponentsOptions
        {
            PaymentElement = components.PaymentElement is { } pe ? new CustomerSessionComponentsPaymentElementOptions
            {
                Enabled = pe.Enabled,
                Features = pe.Features is { } f ? new CustomerSessionComponentsPaymentElementFeaturesOptions
                {
                    PaymentMethodRedisplay = f.PaymentMethodRedisplay,
                    PaymentMethodSave = f.PaymentMethodSave,
                    PaymentMethodRemove = f.PaymentMethodRemove,
                } : null,
            } : null,
            PricingTable = components.PricingTable is { } pt ? new CustomerSessionComponentsPricingTableOptions { Enabled = pt.Enabled } : null,
            BuyButton = components.BuyButton is { } bb ? new CustomerSessionComponentsBuyButtonOptions { Enabled = bb.Enabled } : null,
        },
    }, cancellationToken: cancel);
    return Results.Ok(new SessionResponse(session.ClientSecret, session.ExpiresAt));
}).RequireAuthorization();

app.MapGet("/health/ready", () => Results.Ok());

app.Run();

internal sealed record SessionRequest(Components Components);

internal sealed record Components(PaymentElement? PaymentElement, Toggle? PricingTable, Toggle? BuyButton);

internal sealed record Toggle(bool Enabled);

internal sealed record PaymentElement(bool Enabled, PaymentElementFeatures? Features);

internal sealed record PaymentElementFeatures(string? PaymentMethodRedisplay, string? PaymentMethodSave, string? PaymentMethodRemove);

internal sealed record SessionResponse(string ClientSecret, DateTime ExpiresAt);
