using System.Diagnostics.Metrics;
using BffSessions.Hosting;

namespace BffSessions.Api.Customers;

/// <summary>Customers' instrument on the service's meter: Stripe customers (or accounts) created, by kind and reason.</summary>
public sealed class CustomerMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _created = meters.Create(Telemetry.Name).CreateCounter<long>("bffsessions.customers.created", "{customer}",
        "Stripe customers (or accounts) created: for new users, or replacing one that is gone.");

    public void Created(string kind, string reason) =>
        _created.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("reason", reason));
}
