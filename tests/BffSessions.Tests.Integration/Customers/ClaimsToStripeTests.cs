using System.Net;
using System.Net.Http.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.Customers;

/// <summary>
/// Every identity claim Stripe would refuse still gives the user a session: a name is cleaned and cut, an email that
/// is not an address (or is too long) is left out, an issuer longer than a metadata value is hashed. Each creation is
/// the first and only call: nothing relies on Stripe refusing it first.
/// </summary>
public sealed class ClaimsToStripeTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private const string CustomersPath = "/v1/customers";

    public static TheoryData<string, string, string?> Emails => new()
    {
        { "not an address", HostileClaims.Email, null },
        { "a display name around it", "Ada Lovelace <ada@example.com>", null },
        { "no domain label", "ada@localhost", null },
        { "65 characters before the @", new string('a', 65) + "@example.com", null },
        { "non-ASCII", "adä@example.com", null },
        { "with a line break", "ada@example.com\nBcc: eve@example.com", null },
        { "a plain address, spaces around", "  ada@example.com ", "ada@example.com" },
        { "64 characters before the @", new string('a', 64) + "@example.co.uk", new string('a', 64) + "@example.co.uk" },
    };

    [Theory]
    [MemberData(nameof(Emails))]
    public async Task An_email_claim_Stripe_would_refuse_is_left_out_and_a_good_one_kept(string why, string email, string? sent)
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId, email);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creation = Assert.Single(Stripe.RequestsTo(CustomersPath));
        Assert.Equal(200, creation.Status);
        Assert.True(sent == creation.Form.GetValueOrDefault("email"), why);
    }

    [Fact]
    public async Task A_name_with_overrides_markup_and_line_breaks_over_256_characters_is_cleaned_and_cut()
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId, "ada@example.com", HostileClaims.Name);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creation = Assert.Single(Stripe.RequestsTo(CustomersPath));
        Assert.Equal(200, creation.Status);
        Assert.Equal(HostileClaims.StripeName, creation.Form["name"]);
    }

    [Theory]
    [InlineData("a surrogate pair cut in half at 256", 255, "😀")]
    [InlineData("only marks and controls", 0, "\u202E\u202C\n\t")]
    public async Task A_name_is_never_cut_inside_a_character_and_one_with_nothing_left_is_left_out(string why, int padding, string tail)
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId, null, new string('n', padding) + tail);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creation = Assert.Single(Stripe.RequestsTo(CustomersPath));
        Assert.True(padding == 0 ? !creation.Form.ContainsKey("name") : creation.Form["name"] == new string('n', padding), why);
    }
}
