using System.Buffers.Text;
using System.Text.Json;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Api.Identity;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0 (<c>POST /bff/backchannel</c>): when the user signs out at the provider,
/// the provider posts a signed <c>logout_token</c> here, and the sessions it names end on every instance.
/// </summary>
public sealed partial class BackchannelLogout(
    IOptionsMonitor<OpenIdConnectOptions> openIdConnect, BrowserSessions sessions, TimeProvider time, ILogger<BackchannelLogout> logger)
{
    public const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>
    /// A logout token is sent the moment the user signs out, so it is taken only this soon after its <c>iat</c>, with or
    /// without <c>exp</c> (the 2022 final spec requires exp; providers built on its drafts send none). Within it, the
    /// tokens already acted on (<see cref="SeenLogoutTokens"/>) are refused, so a captured token cannot be replayed.
    /// </summary>
    internal static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    internal static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(2);

    private static readonly CriticalHeaderRefusingTokenHandler Handler = new();

    public const string InvalidDetail = "The request carries no valid OpenID Connect back-channel logout_token.";

    public async Task<IResult> HandleAsync(HttpContext http)
    {
        // The answer is about this one token: nothing on the way may cache it (spec, section 2.8).
        http.Response.Headers.CacheControl = "no-cache, no-store";
        http.Response.Headers.Pragma = "no-cache";

        var form = await RequestForms.ReadOrNullAsync(http.Request, http.RequestAborted);
        var token = form?["logout_token"].ToString() ?? "";
        var (logout, why) = await ValidateAsync(token, openIdConnect.Get(IdentityExtensions.OidcScheme), time.GetUtcNow(), http.RequestAborted);
        if (logout is null)
        {
            LogRefused(logger, why);
            return IdentityProblems.InvalidLogoutToken.Result(InvalidDetail);
        }

        // The token is claimed in the database, shared by every instance and kept across restarts, in the transaction that
        // ends the sessions: a failure there leaves no claim, and the provider's retry ends them. Not cancelled with the
        // request: a provider that gives up waiting must not leave the logout half done.
        if (await sessions.EndOnceAsync(logout, SignedInBy(logout), CancellationToken.None) is not { } ended)
        {
            // The spec's validation, step 8: a jti received before fails it, and a failed validation is a 400.
            LogRefused(logger, "its jti was received before (a replay, or a retry of a delivery already acted on)");
            return IdentityProblems.InvalidLogoutToken.Result(InvalidDetail);
        }

        if (ended == 0)
        {
            // A token for a session that has already ended (the user signed out here first) is still a success.
            LogNothingEnded(logger, logout.Sid is null ? "the user" : "the session");
        }

        return TypedResults.Ok();
    }

    /// <summary>
    /// The latest sign-in a token is about. The provider issued it for the sessions that existed then: one signed in
    /// afterwards (the user came back, at the provider too) is not what it meant, however and whenever the token arrives.
    /// A session's start is stamped on this service's clock and iat on the provider's, so the skew iat is checked with
    /// is allowed here too: a session the provider saw begin before its iat is ended though our clock runs ahead.
    /// </summary>
    public static DateTime SignedInBy(LogoutRequest logout) => (logout.IssuedAt + ClockSkew).UtcDateTime;

    /// <summary>The checks of the spec's section 2.6, in order; the reason for a refusal is for the log only.</summary>
    public static async Task<(LogoutRequest? Logout, string Why)> ValidateAsync(string token, OpenIdConnectOptions provider, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token))
        {
            return (null, "no logout_token in a form body");
        }

        var parameters = new TokenValidationParameters
        {
            ValidAudience = provider.ClientId,
            RequireSignedTokens = true,
            RequireExpirationTime = false,
            ClockSkew = ClockSkew,
            // The spec recommends typing the token "logout+jwt" but does not require it, so the type is not checked;
            // the events claim and the absent nonce below are what keep an ID token from passing as a logout token.
        };
        if (provider.Configuration is { } configuration)
        {
            parameters.ValidIssuer = configuration.Issuer;
            parameters.IssuerSigningKeys = configuration.SigningKeys;
        }
        else
        {
            // The sign-in handler's own discovery document and keys: a key the provider rotated in is fetched on demand.
            parameters.ConfigurationManager = provider.ConfigurationManager as BaseConfigurationManager;
        }

        // The bearer scheme's handler: a token with crit is refused (RFC 7515 §4.1.11), which Microsoft.IdentityModel's would take.
        var result = await Handler.ValidateTokenAsync(token, parameters);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return (null, $"the token failed validation ({result.Exception?.GetType().Name})");
        }

        if (jwt.TryGetPayloadValue<object>("nonce", out _))
        {
            return (null, "the token has a nonce, as an ID token would");
        }

        var nowSeconds = now.ToUnixTimeSeconds();
        if (IssuedAtOf(jwt) is not { } issuedAt
            || issuedAt > nowSeconds + (long)ClockSkew.TotalSeconds || issuedAt < nowSeconds - (long)MaxAge.TotalSeconds)
        {
            return (null, "iat is missing, not a whole number of seconds, in the future, or older than five minutes");
        }

        if (string.IsNullOrEmpty(jwt.Id))
        {
            return (null, "jti is missing");
        }

        if (!jwt.TryGetPayloadValue<JsonElement>("events", out var events) || !IsLogoutEvent(events))
        {
            return (null, "the events claim does not hold the back-channel logout event");
        }

        var subject = jwt.TryGetPayloadValue<string>("sub", out var sub) && !string.IsNullOrEmpty(sub) ? sub : null;
        var sid = jwt.TryGetPayloadValue<string>("sid", out var s) && !string.IsNullOrEmpty(s) ? s : null;
        return subject is null && sid is null
            ? (null, "the token names neither sub nor sid")
            : (new LogoutRequest(jwt.Issuer, subject, sid, jwt.Id, DateTimeOffset.FromUnixTimeSeconds(issuedAt)), "");
    }

    /// <summary>iat as the token's JSON has it, a whole number of seconds; not a string or a fraction, which the token library would read as one.</summary>
    private static long? IssuedAtOf(JsonWebToken jwt)
    {
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(jwt.EncodedPayload));
        return payload.RootElement.TryGetProperty("iat", out var iat) && iat.ValueKind == JsonValueKind.Number && iat.TryGetInt64(out var seconds)
            ? seconds
            : null;
    }

    /// <summary>The events claim is a JSON object whose back-channel logout member is itself an object (spec, section 2.4).</summary>
    private static bool IsLogoutEvent(JsonElement events) =>
        events.ValueKind == JsonValueKind.Object
        && events.TryGetProperty(LogoutEvent, out var logout)
        && logout.ValueKind == JsonValueKind.Object;

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Refused a back-channel logout: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information,
        Message = "A valid back-channel logout named {What}, and no session of it was live here (already signed out, signed in elsewhere, or only since the token was issued)")]
    private static partial void LogNothingEnded(ILogger logger, string what);
}

/// <summary>
/// The sessions a valid logout token names: one by <paramref name="Sid"/>, or all of <paramref name="Subject"/>'s; of
/// them, those signed in by <paramref name="IssuedAt"/> (<see cref="BackchannelLogout.SignedInBy"/>).
/// </summary>
public sealed record LogoutRequest(string Issuer, string? Subject, string? Sid, string TokenId, DateTimeOffset IssuedAt);
