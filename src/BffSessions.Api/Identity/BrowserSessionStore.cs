using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Data;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Browser sessions, server-side, through ASP.NET Core's ticket store: the cookie carries only a random key, and the
/// ticket lives in the database (<see cref="BrowserSession"/>), encrypted with Data Protection. Deleting the row ends
/// every copy of the cookie at once, on every instance; nothing is cached, so a logout on one instance holds on all.
/// </summary>
public sealed partial class BrowserSessionStore(
    IDbContextFactory<AppDbContext> databases,
    IDataProtectionProvider dataProtection,
    CurrentUserAccessor users,
    IOptions<BffOptions> options,
    IOptionsMonitor<OpenIdConnectOptions> openIdConnect,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<BrowserSessionStore> logger) : ITicketStore
{
    /// <summary>When the session ends however often it is used: stamped once at sign-in, carried by every renewal.</summary>
    public const string AbsoluteExpiryItem = ".bff.absolute_expires";

    /// <summary>A purpose of its own: a ticket protected for this table is not a cookie, and a cookie is not a ticket here.</summary>
    public const string TicketProtection = "BffSessions.BrowserSessions.Ticket.v1";

    private readonly IDataProtector _protector = dataProtection.CreateProtector(TicketProtection);

    /// <summary>
    /// Called by the cookie handler as it signs someone in: stamps the absolute expiry, and keeps the sliding one
    /// from reaching past it. Short lifetimes (a minute for both) are valid.
    /// </summary>
    public void OnSigningIn(CookieSigningInContext context)
    {
        var absolute = time.GetUtcNow() + options.Value.SessionLifetime;
        context.Properties.Items[AbsoluteExpiryItem] = absolute.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        if (context.Properties.ExpiresUtc is not { } expires || expires > absolute)
        {
            context.Properties.ExpiresUtc = absolute;
        }
    }

    /// <summary>
    /// Called by the cookie handler in the second half of the idle window: once the session's expiry has reached its
    /// absolute end, a renewal could not move it, so none is written.
    /// </summary>
    public static void OnCheckSlidingExpiration(CookieSlidingExpirationContext context)
    {
        if (context.Properties.ExpiresUtc is { } expires
            && context.Properties.Items.TryGetValue(AbsoluteExpiryItem, out var stamp)
            && long.TryParse(stamp, NumberStyles.None, CultureInfo.InvariantCulture, out var absolute)
            && expires.ToUnixTimeSeconds() >= absolute)
        {
            context.ShouldRenew = false;
        }
    }

    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreAsync(ticket, CancellationToken.None);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var key = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().UtcDateTime;
        var (issuer, subject, sid) = IdentityOf(ticket)
            ?? throw new InvalidOperationException("Sign-in stored a session for an identity that names no usable user.");
        var absolute = AbsoluteExpiryOf(ticket, now);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.BrowserSessions.Add(new BrowserSession
        {
            KeyHash = Hash(key),
            Issuer = issuer,
            Subject = subject,
            Sid = sid,
            CreatedAt = now,
            RenewedAt = now,
            AbsoluteExpiresAt = absolute,
            ExpiresAt = Earlier(SlidingExpiryOf(ticket, now), absolute),
            Ticket = Protect(ticket),
        });
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveAsync(key, CancellationToken.None);

    /// <summary>
    /// What the cookie handler calls. On a request that signs someone in (the Development form's POST, the OpenID
    /// Connect callback), the session the browser presents is ended instead of found: the handler then stores the new
    /// sign-in under a new key, so a copy of the old cookie (planted, or left on a shared device) never becomes the
    /// new user's session.
    /// </summary>
    public async Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken)
    {
        if (httpContext.GetEndpoint()?.Metadata.GetMetadata<SignsIn>() is not null
            || httpContext.Request.Path == openIdConnect.Get(IdentityExtensions.OidcScheme).CallbackPath)
        {
            await RemoveAsync(key, cancellationToken);
            return null;
        }

        return await RetrieveAsync(key, cancellationToken);
    }

    public async Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var hash = Hash(key);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var session = await db.BrowserSessions.AsNoTracking().SingleOrDefaultAsync(s => s.KeyHash == hash && s.ExpiresAt > now, cancellationToken);
        // The local sign-in form exists in Development alone; its sessions are worth nothing anywhere else, even
        // where an instance in another environment shares the database and the keys.
        if (session is null || (session.Issuer == DevSignIn.Issuer && !environment.IsDevelopment()))
        {
            return null;
        }

        AuthenticationTicket? ticket;
        try
        {
            ticket = TicketSerializer.Default.Deserialize(_protector.Unprotect(session.Ticket));
        }
        catch (Exception e) when (e is CryptographicException or FormatException or IOException or InvalidOperationException)
        {
            return null; // its key is gone, or it was written some other way: as good as ended; cleanup deletes the row
        }

        if (ticket is not null)
        {
            // The row decides when the session ends, the absolute lifetime included.
            ticket.Properties.ExpiresUtc = new DateTimeOffset(session.ExpiresAt, TimeSpan.Zero);
        }

        return ticket;
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => RenewAsync(key, ticket, CancellationToken.None);

    /// <summary>
    /// A sliding renewal, or a sign-in over a live session (the cookie handler reuses the key then). Only ever an
    /// update: a row that another request or instance has deleted stays deleted, so a logout cannot be undone by a
    /// renewal in flight.
    /// </summary>
    public async Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var identity = IdentityOf(ticket);
        var absolute = AbsoluteExpiryOf(ticket, now);
        var expires = Earlier(SlidingExpiryOf(ticket, now), absolute);
        var bytes = Protect(ticket);
        var hash = Hash(key);
        try
        {
            await using var db = await databases.CreateDbContextAsync(cancellationToken);
            var session = db.BrowserSessions.Where(s => s.KeyHash == hash);
            if (identity is var (issuer, subject, sid))
            {
                await session.ExecuteUpdateAsync(row => row
                    .SetProperty(s => s.Issuer, issuer)
                    .SetProperty(s => s.Subject, subject)
                    .SetProperty(s => s.Sid, sid)
                    .SetProperty(s => s.AbsoluteExpiresAt, absolute)
                    .SetProperty(s => s.ExpiresAt, expires)
                    .SetProperty(s => s.RenewedAt, now)
                    .SetProperty(s => s.Ticket, bytes), cancellationToken);
            }
            else
            {
                // The identity no longer names a user as today's settings read it (Identity:UserIdClaim changed): the
                // row keeps the identity it was signed in with.
                await session.ExecuteUpdateAsync(row => row
                    .SetProperty(s => s.ExpiresAt, expires)
                    .SetProperty(s => s.RenewedAt, now)
                    .SetProperty(s => s.Ticket, bytes), cancellationToken);
            }
        }
        catch (Exception e) when (DatabaseProblemHandler.IsDatabaseFailure(e))
        {
            // Renewal runs as the response starts, where a failure could only abort it. Skipping it costs nothing: the
            // session keeps its current expiry, and the next request in the window renews it.
            LogRenewalSkipped(logger, e.GetBaseException().Message);
        }
    }

    public Task RemoveAsync(string key) => RemoveAsync(key, CancellationToken.None);

    /// <summary>Signing out ends the session everywhere. Not cancelled with the request: closing the tab must not undo a logout.</summary>
    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        var hash = Hash(key);
        await using var db = await databases.CreateDbContextAsync(CancellationToken.None);
        await db.BrowserSessions.Where(s => s.KeyHash == hash).ExecuteDeleteAsync(CancellationToken.None);
    }

    /// <summary>
    /// The row's identity columns, which back-channel logout names sessions by: the issuer, the provider's own
    /// <c>sub</c> (a logout token carries that one, whichever claim Identity:UserIdClaim picks for the customer map) and
    /// its <c>sid</c> (left out when longer than the column: such a session is still ended by its user). Null when the
    /// identity names no usable user; sign-in has already refused those (IdentityExtensions, DevSignIn).
    /// </summary>
    private (string Issuer, string Subject, string? Sid)? IdentityOf(AuthenticationTicket ticket)
    {
        if (!users.TryGet(ticket.Principal, out var user))
        {
            return null;
        }

        var subject = ticket.Principal.FindFirst("sub")?.Value is { } sub && CurrentUserAccessor.IsUsable(sub, IdentityLimits.MaxSubjectLength) ? sub : user.Id;
        var sid = ticket.Principal.FindFirst(BffClaims.SessionId)?.Value is { Length: <= IdentityLimits.MaxSubjectLength } id ? id : null;
        return (user.Issuer, subject, sid);
    }

    [LoggerMessage(EventId = 2121, Level = LogLevel.Warning, Message = "Could not renew a browser session (it keeps its expiry; the next request tries again): {Reason}")]
    private static partial void LogRenewalSkipped(ILogger logger, string reason);

    private static DateTime AbsoluteExpiryOf(AuthenticationTicket ticket, DateTime now) =>
        ticket.Properties.Items.TryGetValue(AbsoluteExpiryItem, out var stamp)
        && long.TryParse(stamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime
            : now; // a ticket that was never stamped at sign-in is not a session of ours

    private static DateTime SlidingExpiryOf(AuthenticationTicket ticket, DateTime now) => ticket.Properties.ExpiresUtc?.UtcDateTime ?? now;

    private static DateTime Earlier(DateTime a, DateTime b) => a < b ? a : b;

    private byte[] Protect(AuthenticationTicket ticket) => _protector.Protect(TicketSerializer.Default.Serialize(ticket));

    /// <summary>The key's SHA-256: a reader of the table (which also holds the Data Protection keys) cannot rebuild a cookie from it.</summary>
    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
