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
