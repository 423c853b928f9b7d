using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Api.Identity;

public static class IdentityExtensions
{
    /// <summary>The policy every API endpoint requires: an authenticated caller with a user id claim.</summary>
    public const string SignedInUserPolicy = "SignedInUser";

    /// <summary>
    /// The scheme the API authenticates with. It is a selector, not a scheme of its own: today every
    /// request goes to the bearer handler; the browser sign-in adds a cookie branch here (an
    /// Authorization header means bearer, otherwise the cookie), and nothing else has to change.
    /// </summary>
    public const string ApiScheme = "Api";

    public static IHostApplicationBuilder AddIdentity(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<UserClaimsOptions>()
            .BindConfiguration(UserClaimsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<CurrentUserAccessor>();

        builder.Services.AddAuthentication(ApiScheme)
            .AddPolicyScheme(ApiScheme, "Bearer token", options =>
                options.ForwardDefaultSelector = _ => JwtBearerDefaults.AuthenticationScheme)
            // Binds Authentication:Schemes:Bearer (Authority, ValidAudiences, ValidIssuer, SigningKeys),
            // the section `dotnet user-jwts` writes.
            .AddJwtBearer(options =>
            {
                // Keep claim names as the token has them ("sub", "email"), not WS-Federation URIs.
                options.MapInboundClaims = false;
                options.Events = new JwtBearerEvents { OnChallenge = WriteChallengeProblemAsync };
            });

        // The user id claim is a setting, so the policy is built once options are known.
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>()
            .Configure<IOptions<UserClaimsOptions>>((authorization, claims) =>
                authorization.AddPolicy(SignedInUserPolicy, policy => policy
                    .AddAuthenticationSchemes(ApiScheme)
                    .RequireAuthenticatedUser()
                    .RequireClaim(claims.Value.UserIdClaim)));
        return builder;
    }

    /// <summary>
    /// A 401 that says what was wrong with the credentials, as a problem, and never a redirect.
    /// The token itself and the validator's internals are not repeated back.
    /// </summary>
    private static async Task WriteChallengeProblemAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var (detail, header) = context.AuthenticateFailure switch
        {
            null => ("A bearer token is required.", "Bearer"),
            SecurityTokenExpiredException => ("The bearer token has expired.", "Bearer error=\"invalid_token\", error_description=\"The token expired\""),
            _ => ("The bearer token is not valid.", "Bearer error=\"invalid_token\""),
        };
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = header;
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = StatusCodes.Status401Unauthorized, Title = "Unauthorized", Detail = detail },
        });
    }
}
