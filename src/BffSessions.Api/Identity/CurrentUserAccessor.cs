using System.Security.Claims;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>The signed-in user as the rest of the service sees it: an id, and what goes onto a new customer.</summary>
public sealed record SignedInUser(string Id, string? Email, string? Name);

public sealed class CurrentUserAccessor(IOptions<UserClaimsOptions> options)
{
    private readonly UserClaimsOptions _claims = options.Value;

    public string? UserIdOf(ClaimsPrincipal principal) => NonEmpty(principal.FindFirst(_claims.UserIdClaim)?.Value);

    /// <summary>
    /// The authorization policy has already required the user id claim, so this only fails if the
    /// endpoint was mapped without that policy — a programming error, not a client error.
    /// </summary>
    public SignedInUser Get(ClaimsPrincipal principal) => new(
        UserIdOf(principal) ?? throw new InvalidOperationException($"The signed-in user has no '{_claims.UserIdClaim}' claim."),
        NonEmpty(principal.FindFirst(_claims.EmailClaim)?.Value),
        NonEmpty(principal.FindFirst(_claims.NameClaim)?.Value));

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
