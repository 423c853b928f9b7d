using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Payments;

/// <summary>Ready when Stripe is configured: a key is set (start-up has already checked its shape), or Development runs the offline stand-in.</summary>
public sealed class StripeSettingsHealthCheck(IOptions<StripeOptions> options, IHostEnvironment environment) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(options.Value.UsesOfflineStandIn
            ? environment.IsDevelopment()
                ? HealthCheckResult.Healthy("Offline Stripe stand-in (Development).")
                : HealthCheckResult.Unhealthy("Stripe:SecretKey is not set.")
            : HealthCheckResult.Healthy("Stripe settings are present."));
}
