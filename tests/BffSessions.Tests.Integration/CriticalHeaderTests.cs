using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Tests.Infrastructure;
using Microsoft.IdentityModel.Tokens;
using Serilog.Events;

namespace BffSessions.Tests;

/// <summary>
/// RFC 7515 §4.1.11: a JWS whose <c>crit</c> header names an extension the recipient does not understand is invalid, and
/// an empty or non-array <c>crit</c> is malformed. The service understands none, so any <c>crit</c> is a 401. Each token
/// here is the test issuer's own, correctly signed: only its header differs from one that is accepted.
/// </summary>
public sealed class CriticalHeaderTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    public static TheoryData<string, string> CritHeaders => new()
    {
        { "an unknown extension", """{"alg":"HS256","typ":"JWT","crit":["urn:example:must-understand"],"urn:example:must-understand":true}""" },
        { "an unencoded payload (RFC 7797)", """{"alg":"HS256","typ":"JWT","crit":["b64"],"b64":true}""" },
        { "an empty list", """{"alg":"HS256","typ":"JWT","crit":[]}""" },
        { "a string", """{"alg":"HS256","typ":"JWT","crit":"urn:example:must-understand"}""" },
        { "null", """{"alg":"HS256","typ":"JWT","crit":null}""" },
        { "an object", """{"alg":"HS256","typ":"JWT","crit":{}}""" },
    };

    [Theory]
    [MemberData(nameof(CritHeaders))]
    public async Task A_token_with_crit_in_its_header_gets_a_401_problem(string crit, string header)
    {
        using var client = Api.CreateApiClient();
        var token = WithHeader(ApiFactory.Token(NewUserId()), header);
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(BffSessions.Hosting.CommonProblems.Unauthorized.Type, problem.GetProperty("type").GetString());
        Assert.Equal("The bearer token's header has crit: it names extensions this service would have to understand, and it understands none.",
            problem.GetProperty("detail").GetString());
        Assert.Equal("Bearer error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
        Assert.DoesNotContain(token.Split('.')[0], await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(Stripe.Requests);
        // Logged once, as every refused token is: the kind of failure, never the header's content.
        var refused = Assert.Single(LogEvents, e => EventIdOf(e) == 2002);
        Assert.Equal("SecurityTokenUnsupportedCriticalHeaderException", (refused.Properties["Failure"] as ScalarValue)?.Value);
        Assert.Null(refused.Exception);
        Assert.DoesNotContain(LogEvents, e => e.Level >= LogEventLevel.Warning);
        var encodedHeader = token.Split('.')[0];
        Assert.False(LogLines.Any(l => l.Contains(encodedHeader, StringComparison.Ordinal)), $"a log line holds the header whose crit is {crit}");
    }

    /// <summary>The same tokens re-signed without crit are accepted, header members the service does not know included.</summary>
    [Theory]
    [InlineData("""{"alg":"HS256","typ":"JWT"}""")]
    [InlineData("""{"alg":"HS256","typ":"JWT","urn:example:not-critical":true}""")]
    public async Task A_token_without_crit_is_accepted(string header)
    {
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", WithHeader(ApiFactory.Token(NewUserId()), header));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(LogEvents, e => EventIdOf(e) == 2002);
    }

    /// <summary>The token with <paramref name="header"/> as its header, signed again with the test issuer's key.</summary>
    private static string WithHeader(string token, string header)
    {
        var signingInput = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(header)) + "." + token.Split('.')[1];
        var signature = HMACSHA256.HashData(Convert.FromBase64String(ApiFactory.SigningKeyBase64), Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64UrlEncoder.Encode(signature);
    }

    private static int? EventIdOf(LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is StructureValue structure
            && structure.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int value }
            ? value
            : null;
}
