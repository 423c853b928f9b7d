using BffSessions.Api.Data;
using BffSessions.Api.Payments.Budget;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Stripe;

namespace BffSessions.Api.Payments;

public static partial class PaymentsExtensions
{
    private const string HttpClientName = "Stripe";

    public static IHostApplicationBuilder AddPayments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StripeOptions>()
            .BindConfiguration(StripeOptions.SectionName)
            // An old setting that no longer binds would silently fall back to the default: say where it went.
            .Validate<IConfiguration>(
                (_, configuration) => configuration.GetSection("RateLimiting:StripeConcurrency").Value is null,
                "RateLimiting:StripeConcurrency was renamed Stripe:MaxCallsInFlight (env var Stripe__MaxCallsInFlight): move the value there.")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<StripeOptions>, StripeOptionsValidator>();
        // Development's default webhook secret is public: with a real Stripe key, events signed with it are not believed.
        if (builder.Environment.IsDevelopment())
        {
            builder.Services.PostConfigure<StripeOptions>(stripe =>
            {
                if (!stripe.UsesOfflineStandIn)
                {
                    stripe.WebhookSecrets = stripe.WebhookSecrets.Where(s => s != StripeOptions.LocalTestWebhookSecret).ToArray();
                }
            });
        }

        builder.Services.TryAddSingleton(TimeProvider.System);

        // One long-lived client: StripeGateway applies Stripe:Timeout, so HttpClient's own is off, and the
        // handler is kept (not rotated) with pooled connections recycled for DNS changes instead.
        // Stripe's answers are a few kilobytes: a megabyte is plenty, and bounds what a broken answer can cost.
        builder.Services.AddHttpClient(HttpClientName, http =>
            {
                http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
                http.MaxResponseContentBufferSize = 1024 * 1024;
            })
            .SetHandlerLifetime(System.Threading.Timeout.InfiniteTimeSpan)
            // Stripe.net does not retry a 5xx Stripe keeps for the request's idempotency key: it would only be replayed.
            .AddHttpMessageHandler<StripeIdempotencyHandler>()
            // Every attempt, Stripe.net's retries included, waits for its turn in the deployment's budget.
            .AddHttpMessageHandler<StripeBudgetHandler>()
            .ConfigurePrimaryHttpMessageHandler(services =>
                services.GetRequiredService<IOptions<StripeOptions>>().Value.UsesOfflineStandIn
                    ? services.GetRequiredService<OfflineStripe>().CreateHandler()
                    : new SocketsHttpHandler
                    {
                        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                        // Stripe uses neither traceparent nor baggage, and a client's baggage is not Stripe's business.
                        ActivityHeadersPropagator = System.Diagnostics.DistributedContextPropagator.CreateNoOutputPropagator(),
                    });

        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<StripeOptions>>().Value;
            var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
            return new StripeClient(
                apiKey: options.UsesOfflineStandIn ? OfflineStripe.ApiKey : options.SecretKey!.Trim(),
                httpClient: new SystemNetHttpClient(http, options.MaxNetworkRetries),
                apiBase: options.ApiBase.ToString().TrimEnd('/'));
        });
        // The budget's schedule: in memory for one instance (SQLite); shared by every instance on PostgreSQL.
        if (DataExtensions.ReadProvider(builder.Configuration) == DatabaseProvider.Postgres)
        {
            builder.Services.AddSingleton<PostgresCallSchedule>();
            builder.Services.AddSingleton<IStripeCallSchedule>(services => services.GetRequiredService<PostgresCallSchedule>());
            builder.Services.AddHostedService(services => services.GetRequiredService<PostgresCallSchedule>());
        }
        else
        {
            builder.Services.AddSingleton<IStripeCallSchedule, InMemoryCallSchedule>();
        }
        builder.Services.AddSingleton<StripeBudget>();
        builder.Services.AddTransient<StripeBudgetHandler>();
        builder.Services.AddTransient<StripeIdempotencyHandler>();
        builder.Services.AddSingleton<OfflineStripe>(); // built only when resolved: in Development without a key
        builder.Services.AddSingleton<IStripeGateway, StripeGateway>();
        builder.Services.AddSingleton<StripeMetrics>();
        builder.Services.Configure<OpenTelemetry.Instrumentation.Http.HttpClientTraceInstrumentationOptions>(StripeMetrics.Enrich);
        builder.Services.AddSingleton<IStripeEventReader, StripeEventReader>();
        builder.Services.AddExceptionHandler<StripeProblemHandler>();
        builder.Services.AddHostedService<OfflineStandInWarning>();
        builder.Services.AddHealthChecks().AddCheck<StripeSettingsHealthCheck>("stripe-settings", tags: ["ready"]);
        return builder;
    }

    /// <summary>Says loudly, once at start, that no request reaches Stripe.</summary>
    private sealed partial class OfflineStandInWarning(IOptions<StripeOptions> options, ILogger<OfflineStandInWarning> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (options.Value.UsesOfflineStandIn)
            {
                LogOffline(logger);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 4101, Level = LogLevel.Warning,
            Message = "Stripe:SecretKey is not set: the offline Stripe stand-in (tools/StripeStandIn) answers every Stripe call in this process (Development only). Set Stripe:SecretKey to a test key to use Stripe.")]
        private static partial void LogOffline(ILogger logger);
    }
}
