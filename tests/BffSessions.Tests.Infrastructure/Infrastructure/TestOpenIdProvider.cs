using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using BffSessions.Api.Identity;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// An OpenID Connect provider as the service's sign-in handler meets it, in process: its discovery document set on the
/// handler's options, its token endpoint answered here (the handler's back channel) with an id token the test shapes.
/// A browser signs in through the real /bff/login and /signin-oidc, so the session row is the one a user gets. Any
/// other request the handler makes to the provider fails the test.
/// </summary>
public sealed class TestOpenIdProvider(string issuer, string clientId, SecurityKey key) : HttpMessageHandler
{
    private readonly ConcurrentDictionary<string, (Dictionary<string, object> Claims, Dictionary<string, object> Header)> _codes = new();

    public string Issuer { get; } = issuer;

    public string ClientId { get; } = clientId;

    /// <summary>The settings that turn browser sign-in on, for this provider.</summary>
    public Dictionary<string, string?> Settings => new()
    {
        ["Authentication:Schemes:OpenIdConnect:Authority"] = Issuer,
        ["Authentication:Schemes:OpenIdConnect:ClientId"] = ClientId,
        ["Authentication:Schemes:OpenIdConnect:ClientSecret"] = "not-used-here",
    };

    /// <summary>The provider's discovery document, as the handler would have fetched it, and its back channel: this.</summary>
    public void Configure(OpenIdConnectOptions options)
    {
        options.Configuration = new OpenIdConnectConfiguration
        {
            Issuer = Issuer,
            AuthorizationEndpoint = Issuer + "/authorize",
            TokenEndpoint = Issuer + "/token",
        };
        options.Configuration.SigningKeys.Add(key);
        // Set after the handler's own post-configuration, which made a manager that would fetch the real document.
        options.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(options.Configuration);
        options.Backchannel = new HttpClient(this, disposeHandler: false); // one provider may serve several hosts
    }

    public void Configure(IServiceCollection services) =>
        services.PostConfigure<OpenIdConnectOptions>(IdentityExtensions.OidcScheme, Configure);

    /// <summary>
    /// Signs <paramref name="browser"/> in as <paramref name="subject"/> with the provider's session <paramref name="sid"/>:
    /// /bff/login, the provider's authorization (granted at once), then the callback with a code the token endpoint
    /// redeems for an id token with <paramref name="header"/>'s members added to its header. Returns the callback's answer.
    /// </summary>
    public async Task<HttpResponseMessage> SignInAsync(HttpClient browser, string subject, string sid, Dictionary<string, object>? header = null)
    {
        using var login = await browser.GetAsync("/bff/login?returnUrl=/");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var authorize = login.Headers.Location!;
        Assert.StartsWith(Issuer + "/authorize?", authorize.ToString(), StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(authorize.Query);

        var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _codes[code] = (new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["aud"] = ClientId,
            ["sub"] = subject,
            ["sid"] = sid,
            ["nonce"] = query["nonce"].ToString(),
            ["iat"] = now,
            ["exp"] = now + 300,
        }, header ?? []);
        return await browser.PostAsync(new Uri(query["redirect_uri"].ToString()).AbsolutePath, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["code"] = code,
            ["state"] = query["state"].ToString(),
        }));
    }

    /// <summary>A back-channel logout token as the provider signs it when <paramref name="subject"/> signs out there.</summary>
    public string LogoutToken(string subject, string jti)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["aud"] = ClientId,
            ["sub"] = subject,
            ["iat"] = now,
            ["exp"] = now + 120,
            ["jti"] = jti,
            ["events"] = new Dictionary<string, object> { [BackchannelLogout.LogoutEvent] = new { } },
        };
        return new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(claims),
            new SigningCredentials(key, SecurityAlgorithms.RsaSha256), new Dictionary<string, object> { ["typ"] = "logout+jwt" });
    }

    /// <summary>The token endpoint: a code handed out above, once, for its id token.</summary>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Assert.True(request.Method == HttpMethod.Post && request.RequestUri?.ToString() == Issuer + "/token", $"The provider was asked {request.Method} {request.RequestUri}.");
        var form = QueryHelpers.ParseQuery(await request.Content!.ReadAsStringAsync(cancellationToken));
        if (!_codes.TryRemove(form["code"].ToString(), out var grant))
        {
            return new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = JsonContent.Create(new { error = "invalid_grant" }) };
        }

        var header = new Dictionary<string, object>(grant.Header) { ["typ"] = "JWT" };
        var idToken = new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(grant.Claims),
            new SigningCredentials(key, SecurityAlgorithms.RsaSha256), header);
        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = JsonContent.Create(new Dictionary<string, object>
            {
                ["id_token"] = idToken,
                ["access_token"] = "provider-access-token",
                ["token_type"] = "Bearer",
                ["expires_in"] = 300,
            }),
        };
    }
}
