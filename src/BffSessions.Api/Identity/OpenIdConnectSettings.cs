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

public sealed class OpenIdConnectSettingsValidator : IValidateOptions<OpenIdConnectSettings>
{
    public ValidateOptionsResult Validate(string? name, OpenIdConnectSettings settings) =>
        settings.IsConfigured && string.IsNullOrWhiteSpace(settings.ClientId)
            ? ValidateOptionsResult.Fail("Authentication:Schemes:OpenIdConnect:ClientId is required when an Authority is set.")
            : ValidateOptionsResult.Success;
}
