using System.Text;
using System.Text.RegularExpressions;

namespace BffSessions.Hosting;

/// <summary>
/// The one rule for a person's name and email address as the identity provider (or the Development sign-in form)
/// gives them, before they are shown anywhere else (Stripe's Dashboard, receipts, checkout): what is removed, how
/// long they may be, and what counts as an address.
/// </summary>
public static partial class DisplayText
{
    /// <summary>The longest name kept: Stripe's limit for a customer's name, the strictest place one goes.</summary>
    public const int MaxNameLength = 256;

    /// <summary>The longest email address kept: Stripe's limit for a customer's email.</summary>
    public const int MaxEmailLength = 512;

    /// <summary>
    /// <paramref name="value"/> fit to show as a name: control characters and line breaks (U+2028 and U+2029 too) become spaces; the
    /// bidirectional overrides, embeddings and isolates (which make text read as something else) and angle brackets
    /// (markup) are removed; runs of spaces collapse; and it is cut to <paramref name="maxLength"/> UTF-16 code units,
    /// never inside a surrogate pair. Null when nothing is left.
    /// </summary>
    public static string? Clean(string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = new StringBuilder(Math.Min(value.Length, maxLength));
        var space = false;
        foreach (var c in value)
        {
            if (IsRemoved(c))
            {
                continue;
            }

            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                space = text.Length > 0;
                continue;
            }

            if (space)
            {
                text.Append(' ');
                space = false;
            }

            text.Append(c);
            if (text.Length >= maxLength)
            {
                break;
            }
        }

        if (text.Length > maxLength)
        {
            text.Length = maxLength;
        }

        if (text.Length > 0 && char.IsHighSurrogate(text[^1]))
        {
            text.Length--;
        }

        return text.Length == 0 ? null : text.ToString();
    }

    /// <summary>
    /// An email address as Stripe takes one, at most <paramref name="maxLength"/> characters, trimmed; otherwise null
    /// (left out, rather than refused). Only plain ASCII addresses qualify: a dot-atom local part and a domain of at
    /// least two labels, within RFC 5321's lengths (64 before the @, 255 after); no display name, no brackets, no comments.
    /// </summary>
    public static string? EmailAddress(string? value, int maxLength)
    {
        var address = value?.Trim();
        return address is { Length: > 0 } && address.Length <= maxLength && Address().IsMatch(address) ? address : null;
    }

    /// <summary>Unicode's bidirectional controls (LRM, RLM, ALM, embeddings, overrides, isolates) and markup's brackets.</summary>
    private static bool IsRemoved(char c) =>
        c is '\u200E' or '\u200F' or '\u061C' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '<' or '>';

    [GeneratedRegex(@"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?=[^@]{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", RegexOptions.CultureInvariant)]
    private static partial Regex Address();
}
