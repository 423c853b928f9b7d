using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace BffSessions.Tests.Infrastructure;

/// <summary>Every log event the service writes during the test run, rendered as text with its properties and exception.</summary>
public sealed class LogCapture : ILogEventSink
{
    private readonly ConcurrentQueue<(LogEvent Event, string Text)> _events = new();

    public IReadOnlyList<LogEvent> Events => _events.Select(e => e.Event).ToList();

    public IReadOnlyList<string> Lines => _events.Select(e => e.Text).ToList();

    public void Emit(LogEvent logEvent)
    {
        var properties = string.Join(' ', logEvent.Properties.Select(p => $"{p.Key}={p.Value}"));
        _events.Enqueue((logEvent, $"[{logEvent.Level}] {logEvent.RenderMessage()} {properties} {logEvent.Exception}"));
    }
}

/// <summary>What must never appear in a log line or a response body that is not the session's own answer.</summary>
public static partial class Secrets
{
    // Client secrets, secret and restricted keys, JWTs, bearer headers, and Data Protection payloads (the session cookie's value).
    [GeneratedRegex(@"cuss_secret_[A-Za-z0-9]+|\b[sr]k_(test|live)_[A-Za-z0-9]+|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|Bearer\s+[A-Za-z0-9._~+/-]{16,}|CfDJ8[A-Za-z0-9_-]{20,}")]
    public static partial Regex Pattern();

    public static IReadOnlyList<string> FoundIn(IEnumerable<string> lines) =>
        lines.Where(line => Pattern().IsMatch(line)).ToList();
}
