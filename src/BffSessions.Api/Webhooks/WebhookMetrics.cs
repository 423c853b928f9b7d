using System.Diagnostics.Metrics;
using BffSessions.Hosting;

namespace BffSessions.Api.Webhooks;

/// <summary>Webhooks' instrument on the service's meter: Stripe event deliveries, by event type and what was done.</summary>
public sealed class WebhookMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _events = meters.Create(Telemetry.Name).CreateCounter<long>("bffsessions.webhook.events", "{event}",
        "Stripe event deliveries, by event type and what was done.");

    public void Delivered(string type, string outcome) =>
        _events.Add(1, new KeyValuePair<string, object?>("type", type), new KeyValuePair<string, object?>("outcome", outcome));
}
