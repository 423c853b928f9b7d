namespace BffSessions.Hosting;

/// <summary>How long the parts of a user's identity may be: OpenID Connect caps <c>sub</c> at 255 ASCII characters.</summary>
public static class IdentityLimits
{
    public const int MaxSubjectLength = 255;

    public const int MaxIssuerLength = 512;
}
