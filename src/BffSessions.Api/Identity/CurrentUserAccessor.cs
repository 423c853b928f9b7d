using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// The signed-in user as the rest of the service sees it: the issuer that vouches for them and their subject there
/// (OpenID Connect makes <c>sub</c> unique only within its issuer), and what goes onto a new customer.
/// </summary>
public sealed record SignedInUser(string Issuer, string Id, string? Email, string? Name)
{
    /// <summary>
    /// One string per user, for rate-limit partitions: a usable subject holds no control characters
    /// (<see cref="CurrentUserAccessor.IsUsable"/>), so the parts cannot run together. Payments' CustomerOwner.Key is the same.
    /// </summary>
    public string Key => Issuer + "\n" + Id;
}

public sealed class CurrentUserAccessor(IOptions<UserClaimsOptions> options)
{
    /// <summary>The claim that names the token's issuer; the OpenID Connect handler is told to keep it (IdentityExtensions).</summary>
    public const string IssuerClaim = "iss";

    private readonly UserClaimsOptions _claims = options.Value;

    /// <summary>
    /// The user, when the identity names a usable one: an issuer, and a subject of 1 to 255 characters (OpenID
    /// Connect's own cap) without control characters. The API's authorization policy requires this, so a blank, huge
    /// or NUL-bearing <c>sub</c> is a 403 before any database or Stripe call.
    /// </summary>
    public bool TryGet(ClaimsPrincipal principal, [NotNullWhen(true)] out SignedInUser? user)
    {
        var issuer = principal.FindFirst(IssuerClaim)?.Value;
        var subject = principal.FindFirst(_claims.UserIdClaim)?.Value;
        user = IsUsable(issuer, IdentityLimits.MaxIssuerLength) && IsUsable(subject, IdentityLimits.MaxSubjectLength)
            ? new SignedInUser(issuer, subject, EmailOf(principal), NonEmpty(principal.FindFirst(_claims.NameClaim)?.Value))
            : null;
        return user is not null;
    }

    /// <summary>The authorization policy has already required a usable user, so a failure here is a programming error.</summary>
    public SignedInUser Get(ClaimsPrincipal principal) => TryGet(principal, out var user)
        ? user
        : throw new InvalidOperationException("The signed-in identity names no usable user: map the endpoint with the SignedInUser policy.");

    /// <summary>
    /// 1 to <paramref name="maxLength"/> characters, not all blank, with no control characters and none of Unicode's
    /// invisible formatting or line-breaking ones (a right-to-left override can make one id read as another in a log).
    /// </summary>
    public static bool IsUsable([NotNullWhen(true)] string? value, int maxLength) =>
        !string.IsNullOrWhiteSpace(value) && value.Length <= maxLength && !value.Any(IsInvisibleOrControl);

    private static bool IsInvisibleOrControl(char c) => char.IsControl(c) || char.GetUnicodeCategory(c) is
        System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;

    /// <summary>
    /// An address the provider does not say it has verified is not put on a Stripe customer: with an
    /// <c>email_verified</c> claim, only <c>true</c> lets it through (<c>false</c>, <c>0</c>, <c>"no"</c>, <c>null</c> do
    /// not). Without the claim (many providers leave it out of access tokens) the address is taken as the provider gave it.
    /// </summary>
    private string? EmailOf(ClaimsPrincipal principal) =>
        principal.FindFirst("email_verified") is { } verified && !string.Equals(verified.Value, "true", StringComparison.OrdinalIgnoreCase)
            ? null
            : NonEmpty(principal.FindFirst(_claims.EmailClaim)?.Value);

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
