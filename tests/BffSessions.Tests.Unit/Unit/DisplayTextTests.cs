using BffSessions.Hosting;

namespace BffSessions.Tests.Unit;

/// <summary>The one rule for names and addresses from an identity (Hosting/DisplayText), and its agreement with Stripe's as the stand-in keeps it.</summary>
public sealed class DisplayTextTests
{
    [Theory]
    [InlineData("Ada Lovelace", 256, "Ada Lovelace")]
    [InlineData("  Ada\\n\\tLovelace  ", 256, "Ada Lovelace")]
    [InlineData("\\u202Eevil\\u202C \\u2066iso\\u2069", 256, "evil iso")]
    [InlineData("<script>x</script>", 256, "scriptx/script")]
    [InlineData("zero\\u200Bwidth\\uFEFF\\u2060soft\\u00ADhyphen", 256, "zerowidthsofthyphen")]
    [InlineData("\\u3164\\u115F", 256, null)]
    [InlineData("👩\\u200D💻 dev", 256, "👩\\u200D💻 dev")]
    [InlineData("abc def", 4, "abc")]           // the space is not kept without a character after it
    [InlineData("abcd😀", 5, "abcd")]           // a surrogate pair is never cut in half
    [InlineData("\\uD800lone", 256, "lone")]    // a lone surrogate is broken text
    [InlineData("\\u0000\\u001B[31m", 256, "[31m")]
    public void A_name_is_cleaned_and_cut_as_the_rule_says(string raw, int max, string? expected)
    {
        Assert.Equal(Unescape(expected), DisplayText.Clean(Unescape(raw), max));
    }

    public static TheoryData<string> Addresses => new()
    {
        "ada@example.com", "a.b+c@sub.example.co.uk", "x@a.io", new string('a', 64) + "@example.com", "ada@localhost", "ada@", "@example.com",
        "ada..b@example.com", ".ada@example.com", "ada.@example.com", "Ada <ada@example.com>", "\"ada\"@example.com", "ada@exa_mple.com",
        "adä@example.com", "ada@example.com\n", "ada@-example.com", "ada@example-.com", "ada@" + new string('d', 64) + ".com",
        new string('a', 65) + "@example.com", "o'brien@example.ie", "ada@[127.0.0.1]", "ada@example..com", "a b@example.com",
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public void Every_address_the_service_would_send_is_one_the_stand_in_takes_as_Stripe(string address)
    {
        var sent = DisplayText.EmailAddress(address, DisplayText.MaxEmailLength);

        Assert.True(sent is null || BffSessions.StandIn.StripeRules.IsEmailAddress(sent), $"the service would send {address}, which the stand-in refuses");
        Assert.True(sent is not null || !BffSessions.StandIn.StripeRules.IsEmailAddress(address.Trim()), $"the service leaves out {address}, which Stripe takes");
    }

    private static string? Unescape(string? value) => value is null ? null : System.Text.RegularExpressions.Regex.Unescape(value);
}
