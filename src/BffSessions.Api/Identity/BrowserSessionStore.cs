using System.Globalization;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Browser sessions, server-side, through ASP.NET Core's ticket store: the cookie carries only a random key, and the
/// ticket lives in the database (<see cref="BrowserSession"/>), encrypted with Data Protection. Deleting the row ends
/// every copy of the cookie at once, on every instance; nothing is cached, so a logout on one instance holds on all.
/// </summary>
public sealed class BrowserSessionStore(
    IDbContextFactory<AppDbContext> databases,
    IDataProtectionProvider dataProtection,
    CurrentUserAccessor users,
    IOptions<BffOptions> options,
    IHostEnvironment environment,
    TimeProvider time) : ITicketStore
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

    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreAsync(ticket, CancellationToken.None);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var key = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow().UtcDateTime;
        var (issuer, subject, sid) = IdentityOf(ticket);
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
        catch (CryptographicException)
        {
            return null; // its key is gone: as good as ended; cleanup deletes the row when it expires
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
        var (issuer, subject, sid) = IdentityOf(ticket);
        var absolute = AbsoluteExpiryOf(ticket, now);
        var expires = Earlier(SlidingExpiryOf(ticket, now), absolute);
        var bytes = Protect(ticket);
        var hash = Hash(key);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        await db.BrowserSessions.Where(s => s.KeyHash == hash).ExecuteUpdateAsync(session => session
            .SetProperty(s => s.Issuer, issuer)
            .SetProperty(s => s.Subject, subject)
            .SetProperty(s => s.Sid, sid)
            .SetProperty(s => s.AbsoluteExpiresAt, absolute)
            .SetProperty(s => s.ExpiresAt, expires)
            .SetProperty(s => s.RenewedAt, now)
            .SetProperty(s => s.Ticket, bytes), cancellationToken);
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
    /// The row's identity columns, for back-channel logout by user or by the provider's sid. Sign-in has already
    /// required a usable user (IdentityExtensions, DevSignIn).
    /// </summary>
    private (string Issuer, string Subject, string? Sid) IdentityOf(AuthenticationTicket ticket)
    {
        var user = users.Get(ticket.Principal);
        return (user.Issuer, user.Id, ticket.Principal.FindFirst(BffClaims.SessionId)?.Value);
    }

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

/// <summary>Claim types the BFF itself gives a session.</summary>
public static class BffClaims
{
    /// <summary>The session's id: the identity provider's <c>sid</c> when it sends one, else one of our own.</summary>
    public const string SessionId = "sid";
}
