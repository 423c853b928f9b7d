using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BffSessions.Api.Identity;

/// <summary>
/// A back-channel logout token this service has acted on (table <c>seen_logout_tokens</c>, shared by every instance and
/// kept across restarts): the same token again is a replay, wherever it arrives.
/// </summary>
public sealed class SeenLogoutToken
{
    /// <summary>
    /// SHA-256 of the token's issuer and jti, hex: jti is unique per issuer only, and a provider may make it any length,
    /// while the key stays 64 characters.
    /// </summary>
    public required string Id { get; init; }

    /// <summary>The token's iat: once it is older than any instance would take, the row is no longer needed.</summary>
    public DateTime IssuedAt { get; init; }

    public static string IdOf(LogoutRequest logout) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(logout.Issuer + "\n" + logout.TokenId)));
}

/// <summary>The table <c>seen_logout_tokens</c>: Identity's own, applied by the context with the other features' configurations.</summary>
public sealed class SeenLogoutTokenConfiguration : IEntityTypeConfiguration<SeenLogoutToken>
{
    public void Configure(EntityTypeBuilder<SeenLogoutToken> builder)
    {
        builder.ToTable("seen_logout_tokens");
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Id).HasColumnName("id").HasMaxLength(64);
        builder.Property(t => t.IssuedAt).HasColumnName("issued_at").HasConversion(UtcDateTimes.Converter);
        // Cleanup finds the rows no instance needs any more.
        builder.HasIndex(t => t.IssuedAt);
    }
}

/// <summary>The logout tokens acted on, claimed the way Stripe events are (ProcessedStripeEvents): the primary key decides.</summary>
public sealed class SeenLogoutTokens(IDbContextFactory<AppDbContext> databases, TimeProvider time)
{
    /// <summary>
    /// How long after its iat a token is remembered: as long as any instance would take it (<see cref="BackchannelLogout.MaxAge"/>),
    /// and the clock skew again for an instance whose clock runs behind the one that forgets.
    /// </summary>
    public static readonly TimeSpan RememberFor = BackchannelLogout.MaxAge + BackchannelLogout.ClockSkew;

    /// <summary>
    /// Claims <paramref name="logout"/> in <paramref name="db"/>'s transaction: true for the first delivery of the token,
    /// on any instance; false for every other, one arriving at the same moment included (PostgreSQL makes the second
    /// insert wait for the first transaction, then do nothing; SQLite has one writer at a time). A claim whose
    /// transaction rolls back was never made, so a delivery that failed can be retried.
    /// </summary>
    public static async Task<bool> ClaimAsync(AppDbContext db, LogoutRequest logout, CancellationToken cancellationToken)
    {
        var id = SeenLogoutToken.IdOf(logout);
        var issuedAt = logout.IssuedAt.UtcDateTime;
        // ON CONFLICT DO NOTHING reads the same on SQLite and PostgreSQL.
        return await db.Database.ExecuteSqlAsync(
            $"INSERT INTO seen_logout_tokens (id, issued_at) VALUES ({id}, {issuedAt}) ON CONFLICT (id) DO NOTHING",
            cancellationToken) == 1;
    }

    /// <summary>Forgets the tokens issued more than <see cref="RememberFor"/> ago, which no instance takes any more; returns how many.</summary>
    public async Task<int> ForgetOldAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().UtcDateTime - RememberFor;
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.Set<SeenLogoutToken>().Where(t => t.IssuedAt < before).ExecuteDeleteAsync(cancellationToken);
    }
}
