namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Identity claims Stripe would refuse, or should never show as they are, as a provider may send them: the same set
/// goes through a bearer token and through the OpenID Connect sign-in, and both must still give the user a session.
/// </summary>
public static class HostileClaims
{
    /// <summary>The login of the provider's user who has these claims (OIDC_ACCOUNT_CLAIMS).</summary>
    public const string Login = "hostile-claims-user";

    /// <summary>
    /// A right-to-left override, markup, a line break, a tab, a NUL and a left-to-right isolate, then 300 more
    /// characters: Stripe refuses a name over 256, and the rest would show in its Dashboard as sent.
    /// </summary>
    public static readonly string Name = "\u202Egnp.exe <b>Ada</b>\nLovelace\t\0\u2066 " + new string('x', 300);

    /// <summary>What Stripe should get of <see cref="Name"/>: cleaned, then cut to 256 characters.</summary>
    public static readonly string StripeName = ("gnp.exe bAda/b Lovelace " + new string('x', 300))[..256];

    /// <summary>Not an address: Stripe answers email_invalid, and would for every session of this user.</summary>
    public const string Email = "ada at example dot com";

    /// <summary>The JSON the test provider takes in OIDC_ACCOUNT_CLAIMS.</summary>
    public static string ProviderClaims() => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
    {
        [Login] = new Dictionary<string, object> { ["name"] = Name, ["email"] = Email, ["email_verified"] = true },
    });
}
