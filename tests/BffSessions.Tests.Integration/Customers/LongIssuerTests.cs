using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.Customers;

/// <summary>An issuer may be 512 characters; a Stripe metadata value only 500.</summary>
public sealed class LongIssuerTests : StandInTest
{
    [Fact]
    public async Task An_issuer_longer_than_a_metadata_value_reaches_Stripe_as_its_hash()
    {
        var issuer = "https://login.example/" + new string('t', 480);
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Authentication:Schemes:Bearer:ValidIssuer"] = issuer,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = issuer,
        });
        using var client = api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("long-issuer-user", issuer: issuer));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var creation = Assert.Single(Stripe.RequestsTo("/v1/customers"));
        Assert.Equal(200, creation.Status);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(issuer))), creation.Form["metadata[issuer]"]);
        Assert.NotNull(await api.StoredLinkAsync("long-issuer-user", issuer));
    }
}
