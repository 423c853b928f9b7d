using System.ComponentModel.DataAnnotations;

namespace BffSessions.Api.Identity;

/// <summary>Which claims of the caller's identity name the user and describe a new Stripe customer.</summary>
public sealed class UserClaimsOptions
{
    public const string SectionName = "Identity";

    [Required(AllowEmptyStrings = false)]
    public string UserIdClaim { get; set; } = "sub";

    public string EmailClaim { get; set; } = "email";

    public string NameClaim { get; set; } = "name";
}
