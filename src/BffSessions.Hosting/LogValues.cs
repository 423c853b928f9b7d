namespace BffSessions.Hosting;

/// <summary>What a client sent, made fit for a log line.</summary>
public static class LogValues
{
    /// <summary>The longest header value a log line repeats; beyond it the value is cut and marked.</summary>
    public const int MaxHeaderLength = 200;

    /// <summary>
    /// A header value as a log line may hold it: control characters (a forged line break, an escape sequence) become
    /// '?', and it is cut at <see cref="MaxHeaderLength"/> characters, so a client cannot write lines of its own or
    /// flood the log.
    /// </summary>
    public static string Header(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        var cut = value.Length > MaxHeaderLength;
        var text = string.Create(Math.Min(value.Length, MaxHeaderLength), value, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
            }
        });
        return cut ? text + "…" : text;
    }
}
