using System.Net;
using System.Security.Claims;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;

namespace BffSessions.Api.Identity;

/// <summary>GET /bff/user: who is signed in, in Duende BFF's shape, with the session's expiry and its logout link.</summary>
public static class UserEndpoint
{
    public const string SignedOutDetail = "No one is signed in.";

    public static async Task<IResult> UserAsync(HttpContext http, TimeProvider time)
    {
        var session = await http.AuthenticateAsync(IdentityExtensions.CookieScheme);
        if (!session.Succeeded)
        {
            return CommonProblems.Unauthorized.Result(SignedOutDetail);
        }

        var claims = session.Principal!.Claims
            .Select(c => new BffClaim(c.Type, c.Value))
            .ToList();
        var expiresAt = session.Properties?.ExpiresUtc;
        if (expiresAt is not null)
        {
            var now = time.GetUtcNow();
            claims.Add(new BffClaim("bff:session_expires_in", (long)Math.Max(0, (expiresAt.Value - now).TotalSeconds)));
        }

        var sid = session.Principal!.FindFirstValue(BffClaims.SessionId);
        claims.Add(new BffClaim("bff:logout_url", $"/bff/logout?sid={WebUtility.UrlEncode(sid)}"));
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(claims);
    }

    /// <summary>One claim as Duende BFF's /bff/user returns it.</summary>
    public sealed record BffClaim(string Type, object Value);
}
