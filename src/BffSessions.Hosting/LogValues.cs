using Serilog.Core;
using Serilog.Events;

namespace BffSessions.Hosting;

/// <summary>What a client sent (a header value, a path, an id from a body), made fit for a log line.</summary>
public static class LogValues
{
    /// <summary>The most of a client's text a log line repeats; beyond it the value is cut and marked.</summary>
    public const int MaxLength = 200;

    /// <summary>
    /// Client text as a log line may hold it: control characters (a forged line break, an escape sequence) and
    /// Unicode's invisible formatting and line-breaking ones (a right-to-left override, a line separator) become '?',
    /// and it is cut at <see cref="MaxLength"/> characters, so a client cannot write lines of its own, disguise one
    /// value as another, or flood the log.
    /// </summary>
    public static string Text(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var cut = value.Length > MaxLength;
        if (!cut && !HasUnfit(value))
        {
            return value; // the common case (a route, a Stripe request id): nothing to copy
        }

        var text = string.Create(Math.Min(value.Length, MaxLength), value, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = IsUnfit(source[i]) ? '?' : source[i];
            }
        });
        return cut ? text + "…" : text;
    }

    private static bool HasUnfit(string value)
    {
        foreach (var c in value)
        {
            if (IsUnfit(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsUnfit(char c) => char.IsControl(c) || char.GetUnicodeCategory(c) is
        System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;
}

/// <summary>
/// The one sanitiser of log values, on every event whatever the sink and format (Development's text console, JSON
/// lines, OTLP): each string property goes through <see cref="LogValues.Text"/>, so a claim, a header or a line of
/// Stripe's message can neither split a log line nor disguise itself, however it reached the event. Exceptions keep
/// their own lines (a stack trace is ours, not the client's).
/// </summary>
public sealed class CleanTextEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? cleaned = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (Clean(value) is { } clean)
            {
                (cleaned ??= []).Add(new LogEventProperty(name, clean));
            }
        }

        foreach (var property in cleaned ?? [])
        {
            logEvent.AddOrUpdateProperty(property);
        }
    }

    /// <summary>The value with its strings cleaned, or null when nothing needed it (the common case: no copy).</summary>
    private static LogEventPropertyValue? Clean(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string text } when !ReferenceEquals(LogValues.Text(text), text) => new ScalarValue(LogValues.Text(text)),
        SequenceValue sequence when sequence.Elements.Any(e => Clean(e) is not null) =>
            new SequenceValue(sequence.Elements.Select(e => Clean(e) ?? e)),
        _ => null,
    };
}
