using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Every measurement one host makes on the service's meter (its own IMeterFactory's, not another host's in the same
/// process), by instrument: what a test reads to see what an operator would.
/// </summary>
public sealed class MeasurementRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly LockedCollection<(string Instrument, double Value, Dictionary<string, string?> Tags)> _measurements = new();

    public MeasurementRecorder(ApiFactory api)
    {
        var meters = api.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Meter.Name == BffSessions.Hosting.Telemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> so far whose tags include <paramref name="tag"/>.</summary>
    public IReadOnlyList<double> Of(string instrument, (string Key, string Value)? tag = null) =>
        _measurements.Snapshot()
            .Where(m => m.Instrument == instrument && (tag is not { } t || m.Tags.GetValueOrDefault(t.Key) == t.Value))
            .Select(m => m.Value)
            .ToList();

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value?.ToString();
        }

        _measurements.Add((instrument.Name, value, copy));
    }
}
