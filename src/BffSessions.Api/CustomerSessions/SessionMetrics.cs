using System.Diagnostics.Metrics;
using BffSessions.Hosting;

namespace BffSessions.Api.CustomerSessions;

/// <summary>The feature's instrument on the service's meter: customer sessions handed out, by component enabled in them.</summary>
public sealed class SessionMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _created = meters.Create(Telemetry.Name).CreateCounter<long>("bffsessions.sessions.created", "{session}",
        "Customer sessions handed out, by component enabled in them.");

    public void Created(string component) => _created.Add(1, new KeyValuePair<string, object?>("component", component));
}
