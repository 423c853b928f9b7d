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
    /// <summary>The longest name this service keeps (the sign-in form's limit): Stripe's for a customer's name, the strictest place one goes.</summary>
    public const int MaxNameLength = 256;

    /// <summary>The longest email address this service keeps: Stripe's limit for a customer's email (an address within RFC 5321's lengths is shorter).</summary>
    public const int MaxEmailLength = 512;

    /// <summary>
    /// <paramref name="value"/> fit to show as a name: control characters and line breaks (U+2028 and U+2029 too) become spaces;
    /// invisible and direction-changing characters (which make text read as something else) and angle brackets
    /// (markup) are removed; runs of spaces collapse; and it is cut to <paramref name="maxLength"/> UTF-16 code units,
    /// never inside a character. Null when nothing is left.
    /// </summary>
    public static string? Clean(string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = new StringBuilder(Math.Min(value.Length, maxLength));
        var space = false;
        foreach (var rune in value.EnumerateRunes())
        {
            if (IsRemoved(rune))
            {
                continue;
            }

            if (Rune.IsControl(rune) || Rune.IsWhiteSpace(rune))
            {
                space = text.Length > 0;
                continue;
            }

            // A space only where a character follows it, with room for both (never a trailing one); a character
            // whole or not at all (never half of a surrogate pair).
            var needed = (space ? 1 : 0) + rune.Utf16SequenceLength;
            if (text.Length + needed > maxLength)
            {
                break;
            }

            if (space)
            {
                text.Append(' ');
                space = false;
            }

            text.Append(rune.ToString());
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

    /// <summary>
    /// What a reader cannot see or would misread: Unicode's format characters (the bidirectional controls, zero-width
    /// spaces, the byte-order mark, word joiners, soft hyphens, tag characters), except the zero-width non-joiner and
    /// joiner that some scripts and emoji need; the Hangul fillers, blank letters; a lone surrogate (broken text,
    /// read as U+FFFD); and markup's brackets.
    /// </summary>
    private static bool IsRemoved(Rune rune) => rune.Value switch
    {
        0x200C or 0x200D => false,
        '<' or '>' or 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0xFFFD => true,
        _ => Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format,
    };

    // The Stripe stand-in judges addresses with its own copy of this rule (tools/StripeStandIn/StripeRules.cs), on
    // purpose: it must not take the service's word. DisplayTextTests checks that the two agree.
    [GeneratedRegex(@"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?=[^@]{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", RegexOptions.CultureInvariant)]
    private static partial Regex Address();
}
