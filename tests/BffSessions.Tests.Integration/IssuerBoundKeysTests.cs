using System.Net;
using System.Net.Http.Json;
using System.Text;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Serilog.Events;

namespace BffSessions.Tests;

/// <summary>
/// A signing key vouches only for the issuer it is configured for. With two trusted issuers, whoever holds one issuer's
/// key must not be able to mint the other issuer's users (and get their Stripe customers).
/// </summary>
public sealed class IssuerBoundKeysTests : StandInTest
{
    private const string OtherIssuer = "https://other-idp.example";
    private const string Provider = "https://provider.example";
    private static readonly byte[] OtherKey = Encoding.UTF8.GetBytes("the-other-issuers-signing-key-0123456789-abcdef");
    private static readonly SymmetricSecurityKey ProviderKey = new(Encoding.UTF8.GetBytes("the-providers-published-signing-key-0123456789")) { KeyId = "provider-1" };

    /// <summary>This deployment trusts two issuers, each with its own key, as `dotnet user-jwts` writes them.</summary>
    private static readonly Dictionary<string, string?> TwoIssuers = new()
    {
        ["Authentication:Schemes:Bearer:ValidIssuers:0"] = OtherIssuer, // besides ValidIssuer, ApiFactory.Issuer
        ["Authentication:Schemes:Bearer:SigningKeys:1:Issuer"] = OtherIssuer,
        ["Authentication:Schemes:Bearer:SigningKeys:1:Value"] = Convert.ToBase64String(OtherKey),
    };

    [Theory]
    [InlineData(OtherIssuer, "ours")]
    [InlineData(ApiFactory.Issuer, "theirs")]
    public async Task A_key_signs_in_no_user_of_another_trusted_issuer(string claimedIssuer, string signedWith)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: TwoIssuers);
        using var client = api.CreateApiClient();
        var token = ApiFactory.Token("victim", issuer: claimedIssuer, key: signedWith == "theirs" ? OtherKey : null);
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(CommonProblems.Unauthorized.Type, problem.GetProperty("type").GetString());
        Assert.StartsWith("The bearer token is signed by a key this service does not know.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Bearer error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
        await AssertNamesNothingSecretAsync(response, token);
        Assert.Empty(Stripe.Requests);
        Assert.Equal("SecurityTokenSignatureKeyNotFoundException", Assert.Single(RefusedTokens()));
    }

    [Theory]
    [InlineData(ApiFactory.Issuer, "ours")]
    [InlineData(OtherIssuer, "theirs")]
    public async Task Each_issuer_signs_in_its_own_users_with_its_own_key(string issuer, string signedWith)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: TwoIssuers);
        using var client = api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("own-user", issuer: issuer, key: signedWith == "theirs" ? OtherKey : null));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(await api.StoredLinkAsync("own-user", issuer));
        Assert.Empty(RefusedTokens());
    }

    /// <summary>An issuer may have several keys, as while one replaces another; each signs only that issuer's tokens.</summary>
    [Fact]
    public async Task An_issuer_with_two_keys_accepts_both()
    {
        var rotatedIn = Encoding.UTF8.GetBytes("the-test-issuers-next-signing-key-0123456789-abcdef");
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>(TwoIssuers)
        {
            ["Authentication:Schemes:Bearer:SigningKeys:2:Issuer"] = ApiFactory.Issuer,
            ["Authentication:Schemes:Bearer:SigningKeys:2:Value"] = Convert.ToBase64String(rotatedIn),
        });

        var current = await StatusOfAsync(api, ApiFactory.Token("rotating-user"));
        var next = await StatusOfAsync(api, ApiFactory.Token("rotating-user", key: rotatedIn));
        var nextForAnother = await StatusOfAsync(api, ApiFactory.Token("rotating-user", issuer: OtherIssuer, key: rotatedIn));

        Assert.Equal(HttpStatusCode.OK, current);
        Assert.Equal(HttpStatusCode.OK, next);
        Assert.Equal(HttpStatusCode.Unauthorized, nextForAnother);
    }

    /// <summary>
    /// Keys from an Authority's metadata (here the document the handler would have fetched) sign the Authority's tokens
    /// and no others; the configured key still signs only its own issuer's.
    /// </summary>
    [Fact]
    public async Task Keys_from_the_authoritys_metadata_vouch_only_for_the_authoritys_issuer()
    {
        await using var api = new ApiFactory(Stripe, Logs, services: services =>
            services.Configure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
            {
                options.Configuration = new OpenIdConnectConfiguration { Issuer = Provider };
                options.Configuration.SigningKeys.Add(ProviderKey);
            }));

        var providersOwn = await StatusOfAsync(api, ProviderToken("provider-user", Provider));
        var providerSignedWithOurs = await StatusOfAsync(api, ApiFactory.Token("provider-user", issuer: Provider));
        var oursSignedWithProviders = await StatusOfAsync(api, ProviderToken("our-user", ApiFactory.Issuer));
        var oursWithOurs = await StatusOfAsync(api, ApiFactory.Token("our-user"));

        Assert.Equal(HttpStatusCode.OK, providersOwn);
        Assert.Equal(HttpStatusCode.Unauthorized, providerSignedWithOurs);
        Assert.Equal(HttpStatusCode.Unauthorized, oursSignedWithProviders);
        Assert.Equal(HttpStatusCode.OK, oursWithOurs);
        Assert.Equal(["SecurityTokenSignatureKeyNotFoundException", "SecurityTokenSignatureKeyNotFoundException"], RefusedTokens());
    }

    /// <summary>
    /// The keys are read once per change of the settings, not per request: every request is checked with the same key
    /// object (so IdentityModel's signature-provider cache holds), until the settings change.
    /// </summary>
    [Fact]
    public async Task Requests_are_checked_with_the_same_key_object_until_the_settings_change()
    {
        var signingKeys = new System.Collections.Concurrent.ConcurrentQueue<SecurityKey>();
        await using var api = new ApiFactory(Stripe, Logs, settings: TwoIssuers, services: services =>
            services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
            {
                var validated = options.Events.OnTokenValidated;
                options.Events.OnTokenValidated = context =>
                {
                    signingKeys.Enqueue(context.SecurityToken.SigningKey);
                    return validated(context);
                };
            }));

        await StatusOfAsync(api, ApiFactory.Token("same-key-user"));
        await StatusOfAsync(api, ApiFactory.Token("same-key-user"));
        var configuration = (Microsoft.Extensions.Configuration.IConfigurationRoot)api.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>();
        configuration.Reload();
        await StatusOfAsync(api, ApiFactory.Token("same-key-user"));

        var keys = signingKeys.ToArray();
        Assert.Equal(3, keys.Length);
        Assert.Same(keys[0], keys[1]);
        Assert.NotSame(keys[1], keys[2]);
    }

    /// <summary>A key without an Issuer (set by hand, not by `dotnet user-jwts`) belongs to the one issuer the scheme trusts.</summary>
    [Fact]
    public async Task A_key_without_an_issuer_signs_for_the_one_trusted_issuer()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = null });

        var ours = await StatusOfAsync(api, ApiFactory.Token("no-issuer-key-user"));
        var another = await StatusOfAsync(api, ApiFactory.Token("no-issuer-key-user", issuer: OtherIssuer));

        Assert.Equal(HttpStatusCode.OK, ours);
        Assert.Equal(HttpStatusCode.Unauthorized, another);
    }

    /// <summary>With several trusted issuers, or none, a key without an Issuer could be anyone's: start-up stops, naming the setting.</summary>
    [Theory]
    [InlineData("two issuers", "the bearer scheme trusts 2 issuers")]
    [InlineData("no issuer", "the bearer scheme trusts no ValidIssuer")]
    public async Task A_key_without_an_issuer_where_it_cannot_be_told_stops_start_up(string trusted, string reason)
    {
        var settings = new Dictionary<string, string?>(TwoIssuers) { ["Authentication:Schemes:Bearer:SigningKeys:1:Issuer"] = null };
        if (trusted == "no issuer")
        {
            settings = new() { ["Authentication:Schemes:Bearer:ValidIssuer"] = "", ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = null };
        }

        await using var api = new ApiFactory(Stripe, Logs, settings: settings);

        var error = Assert.Throws<SettingsException>(() => api.Server);

        var line = SettingsFailures.MessageOf(error);
        var key = trusted == "no issuer" ? "0" : "1";
        Assert.Equal($"Authentication:Schemes:Bearer:SigningKeys:{key}:Issuer is required: {reason}, and a signing key is valid only for the one issuer (iss) it names.", line);
        Assert.DoesNotContain(ApiFactory.SigningKeyBase64, line, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(OtherKey), line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_that_is_not_base64_stops_start_up_without_repeating_it()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = "not base64: a secret-ish value!" });

        var error = Assert.Throws<SettingsException>(() => api.Server);

        Assert.Equal("Authentication:Schemes:Bearer:SigningKeys:0:Value is not base64.", SettingsFailures.MessageOf(error));
    }

    private static string ProviderToken(string userId, string issuer)
    {
        // ApiFactory.Token signs with a bare key; the provider's key carries its kid, as a published JWKS key does.
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", userId)]),
            Issuer = issuer,
            Audience = ApiFactory.Audience,
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(ProviderKey, SecurityAlgorithms.HmacSha256),
        });
        Assert.Contains("\"kid\":\"provider-1\"", Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(token.Split('.')[0])), StringComparison.Ordinal);
        return token;
    }

    private static async Task<HttpStatusCode> StatusOfAsync(ApiFactory api, string token)
    {
        using var client = api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
        return response.StatusCode;
    }

    /// <summary>The refused-token log lines (event 2002), by the kind of failure each names.</summary>
    private List<string> RefusedTokens() =>
        [.. Logs.Events.Where(e => e.Properties.TryGetValue("EventId", out var id) && id is StructureValue structure
                && structure.Properties.Any(p => p is { Name: "Id", Value: ScalarValue { Value: 2002 } }))
            .Select(e => e.Properties["Failure"] is ScalarValue { Value: string failure } ? failure : "")];

    private static async Task AssertNamesNothingSecretAsync(HttpResponseMessage response, string token)
    {
        var body = await response.Content.ReadAsStringAsync();
        foreach (var secret in new[] { token, token.Split('.')[2], ApiFactory.SigningKeyBase64, Convert.ToBase64String(OtherKey), Encoding.UTF8.GetString(OtherKey) })
        {
            Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }
}
