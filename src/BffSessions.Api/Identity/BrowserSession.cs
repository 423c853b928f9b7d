using BffSessions.Api.Data;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BffSessions.Api.Identity;

/// <summary>
/// A browser session, server-side: the cookie holds only a random key, whose hash finds this row. Deleting the row
/// ends every copy of the cookie at once, on every instance.
/// </summary>
public sealed class BrowserSession
{
    /// <summary>SHA-256 of the cookie's key, hex: the key itself is never stored, so a reader of this table cannot forge a cookie.</summary>
    public required string KeyHash { get; init; }

    public required string Issuer { get; init; }

    public required string Subject { get; init; }

    /// <summary>The identity provider's session id, which back-channel logout names.</summary>
    public string? Sid { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime RenewedAt { get; set; }

    /// <summary>When the session ends unless used: the sliding expiry, never later than <see cref="AbsoluteExpiresAt"/>.</summary>
    public DateTime ExpiresAt { get; set; }

    /// <summary>When the session ends however often it is used (Bff:SessionLifetime after sign-in).</summary>
    public DateTime AbsoluteExpiresAt { get; init; }

    /// <summary>The authentication ticket, serialized and encrypted with Data Protection.</summary>
    public required byte[] Ticket { get; set; }
}

/// <summary>The table <c>browser_sessions</c>: Identity's own.</summary>
public sealed class BrowserSessionConfiguration : IEntityTypeConfiguration<BrowserSession>
{
    public void Configure(EntityTypeBuilder<BrowserSession> builder)
    {
        builder.ToTable("browser_sessions");
        builder.HasKey(b => b.KeyHash);
        builder.Property(b => b.KeyHash).HasColumnName("key_hash").HasMaxLength(64);
        builder.Property(b => b.Issuer).HasColumnName("issuer").HasMaxLength(IdentityLimits.MaxIssuerLength);
        builder.Property(b => b.Subject).HasColumnName("subject").HasMaxLength(IdentityLimits.MaxSubjectLength);
        builder.Property(b => b.Sid).HasColumnName("sid").HasMaxLength(255);
        builder.Property(b => b.CreatedAt).HasColumnName("created_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(b => b.RenewedAt).HasColumnName("renewed_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(b => b.ExpiresAt).HasColumnName("expires_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(b => b.AbsoluteExpiresAt).HasColumnName("absolute_expires_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(b => b.Ticket).HasColumnName("ticket");
        // Back-channel logout ends sessions by the provider's sid or by the user; cleanup finds the expired ones.
        builder.HasIndex(b => new { b.Issuer, b.Sid });
        builder.HasIndex(b => new { b.Issuer, b.Subject });
        builder.HasIndex(b => b.ExpiresAt);
    }
}

/// <summary>The browser sessions as a set of the service's one context.</summary>
public static class BrowserSessionSet
{
    extension(AppDbContext db)
    {
        public DbSet<BrowserSession> BrowserSessions => db.Set<BrowserSession>();
    }
}
