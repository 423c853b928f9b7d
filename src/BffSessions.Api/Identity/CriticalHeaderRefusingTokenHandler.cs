using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Api.Identity;

/// <summary>
/// The token handler of every token the service takes (bearer tokens, the sign-in's id tokens, back-channel logout
/// tokens): Microsoft.IdentityModel's, and it honours <c>crit</c>. RFC 7515 §4.1.11: a JWS
/// whose <c>crit</c> header lists an extension the recipient does not understand is invalid, and an empty or non-array
/// <c>crit</c> is malformed. This service understands no extension, so a token with any <c>crit</c> is refused, before
/// its signature is checked. Microsoft.IdentityModel itself ignores the header.
/// </summary>
internal sealed class CriticalHeaderRefusingTokenHandler : JsonWebTokenHandler
{
    private const string Crit = "crit";

    // ValidateTokenAsync(string) reads the token and comes here with it, so the header is not parsed twice.
    public override Task<TokenValidationResult> ValidateTokenAsync(SecurityToken token, TokenValidationParameters validationParameters) =>
        token is JsonWebToken jwt && jwt.TryGetHeaderValue<object>(Crit, out _)
            ? Task.FromResult(new TokenValidationResult { IsValid = false, Exception = new SecurityTokenUnsupportedCriticalHeaderException() })
            : base.ValidateTokenAsync(token, validationParameters);
}

/// <summary>The token's header has <c>crit</c>: extensions this service would have to understand, and understands none of.</summary>
public sealed class SecurityTokenUnsupportedCriticalHeaderException : SecurityTokenValidationException
{
    public SecurityTokenUnsupportedCriticalHeaderException()
        : base("The token's header has crit: it names extensions that must be understood, and none is.")
    {
    }

    public SecurityTokenUnsupportedCriticalHeaderException(string message)
        : base(message)
    {
    }

    public SecurityTokenUnsupportedCriticalHeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
