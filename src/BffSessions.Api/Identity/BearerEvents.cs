using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Api.Identity;

/// <summary>
/// The bearer scheme's answers: a 401 that says what was wrong with the token, a 403 for a token that names no usable
/// user, and one log line per refused token naming the kind of failure only: never the token, nor the header or claim
/// values it carried (ASP.NET Core's own, longer lines about it are turned down to Warning in appsettings.json).
/// </summary>
internal sealed partial class BearerEvents(IProblemDetailsService problems, ILogger<BearerEvents> logger) : JwtBearerEvents
{
    public override Task AuthenticationFailed(AuthenticationFailedContext context)
    {
        LogBadToken(logger, context.Exception.GetType().Name);
        return Task.CompletedTask;
    }

    /// <summary>The token and the validator's internals are not repeated.</summary>
    public override Task Challenge(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var (detail, header) = context.AuthenticateFailure switch
        {
            null => ("A bearer token is required.", "Bearer"),
            SecurityTokenExpiredException => ("The bearer token has expired.", "Bearer error=\"invalid_token\", error_description=\"The token expired\""),
            SecurityTokenSignatureKeyNotFoundException => ("The bearer token is signed by a key this service does not know. (A key `dotnet user-jwts create` " +
                "has just written is read within seconds; a token from another provider needs that provider's keys.)", "Bearer error=\"invalid_token\""),
            SecurityTokenInvalidIssuerException => ("The bearer token's issuer (iss) is not one this service trusts.", "Bearer error=\"invalid_token\""),
            SecurityTokenInvalidAudienceException => ("The bearer token's audience (aud) is not this service.", "Bearer error=\"invalid_token\""),
            SecurityTokenUnsupportedCriticalHeaderException => ("The bearer token's header has crit: it names extensions this service would have to " +
                "understand, and it understands none.", "Bearer error=\"invalid_token\""),
            _ => (IdentityProblems.InvalidTokenDetail, "Bearer error=\"invalid_token\""),
        };
        return problems.WriteAsync(context.HttpContext, CommonProblems.Unauthorized.Create(detail), header);
    }

    public override Task Forbidden(ForbiddenContext context) =>
        problems.WriteAsync(context.HttpContext, CommonProblems.Forbidden.Create(IdentityProblems.NoUsableUserDetail), wwwAuthenticate: null);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Refused a bearer token: {Failure}")]
    private static partial void LogBadToken(ILogger logger, string failure);
}
