using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Whether browser sign-in goes to an OpenID Connect provider: <c>Authentication:Schemes:OpenIdConnect</c>, the section
/// ASP.NET Core's handler binds. Without an Authority, Development offers the local sign-in form and other
/// environments offer no browser sign-in.
/// </summary>
public sealed class OpenIdConnectSettings
{
    public const string SectionName = "Authentication:Schemes:OpenIdConnect";

    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Authority);
}

/// <summary>
/// Browser sign-in needs a client id; and outside Development someone must be able to sign in at all: bearer tokens
/// (an Authority, or signing keys) or an OpenID Connect provider. Without either every request would be a 401 while
/// the service looked healthy.
/// </summary>
public sealed class OpenIdConnectSettingsValidator(IOptionsMonitor<JwtBearerOptions> bearer, IHostEnvironment environment)
    : IValidateOptions<OpenIdConnectSettings>
{
    public ValidateOptionsResult Validate(string? name, OpenIdConnectSettings settings)
    {
        if (settings.IsConfigured && string.IsNullOrWhiteSpace(settings.ClientId))
        {
            return ValidateOptionsResult.Fail("Authentication:Schemes:OpenIdConnect:ClientId is required when an Authority is set.");
        }

        var tokens = bearer.Get(JwtBearerDefaults.AuthenticationScheme);
        var bearerConfigured = !string.IsNullOrWhiteSpace(tokens.Authority) || !string.IsNullOrWhiteSpace(tokens.MetadataAddress)
            || tokens.TokenValidationParameters.IssuerSigningKey is not null || tokens.TokenValidationParameters.IssuerSigningKeys?.Any() == true;
        return settings.IsConfigured || bearerConfigured || environment.IsDevelopment()
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                "Nobody could sign in: set Authentication:Schemes:Bearer:Authority (your identity provider, for bearer tokens; or ValidIssuer " +
                "and SigningKeys), or Authentication:Schemes:OpenIdConnect:Authority and ClientId (browser sign-in). See docs/security.md, \"Configuring a real identity provider\".");
    }
}
