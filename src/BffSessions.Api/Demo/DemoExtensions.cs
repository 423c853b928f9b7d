using BffSessions.Api.Payments;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Demo;

/// <summary>The <c>Demo</c> section.</summary>
public sealed class DemoOptions
{
    public const string SectionName = "Demo";

    /// <summary>Serve the demo page outside Development too.</summary>
    public bool Enabled { get; set; }
}

/// <summary>
/// The demo page (wwwroot): sign in, then mount a Stripe element with a fresh customer session. Served in
/// Development, and elsewhere only when Demo:Enabled is true.
/// </summary>
public static class DemoExtensions
{
    /// <summary>Stripe.js and its frames, and nothing else from outside this site.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; " +
        "connect-src 'self' https://api.stripe.com; img-src 'self' data: https://*.stripe.com; style-src 'self' 'unsafe-inline'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

    public static IHostApplicationBuilder AddDemoPage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DemoOptions>().BindConfiguration(DemoOptions.SectionName);
        return builder;
    }

    public static bool IsDemoEnabled(this WebApplication app) =>
        app.Environment.IsDevelopment() || app.Services.GetRequiredService<IOptions<DemoOptions>>().Value.Enabled;

    public static WebApplication UseDemoPage(this WebApplication app)
    {
        if (!app.IsDemoEnabled())
        {
            return app;
        }

        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file =>
            {
                var headers = file.Context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                // The page decides per render which session to ask for; never serve it stale.
                headers.CacheControl = "no-cache";
            },
        });
        return app;
    }

    /// <summary>What the page needs to mount Stripe.js: public values only, never a secret.</summary>
    public static WebApplication MapDemoConfig(this WebApplication app)
    {
        if (app.IsDemoEnabled())
        {
            app.MapGet("/api/config", (IOptions<StripeOptions> stripe) => TypedResults.Ok(new DemoConfig(
                    stripe.Value.PublishableKey, stripe.Value.PricingTableId, stripe.Value.BuyButtonId)))
                .WithTags("Demo")
                .WithSummary("Public Stripe settings for the demo page: publishable key, pricing table and buy button ids")
                .AllowAnonymous();
        }

        return app;
    }

    public sealed record DemoConfig(string? PublishableKey, string? PricingTableId, string? BuyButtonId);
}
