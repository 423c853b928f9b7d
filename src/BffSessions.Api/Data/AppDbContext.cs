using BffSessions.Api.Payments;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace BffSessions.Api.Data;

/// <summary>
/// One row per user: the Stripe customer that user pays as. Created once, read on every cache miss. A user is an
/// issuer and a subject: OpenID Connect makes <c>sub</c> unique only within its issuer.
/// </summary>
public sealed class CustomerLink
{
    /// <summary>The identity provider that vouches for <see cref="UserId"/> (the token's <c>iss</c>).</summary>
    public required string Issuer { get; init; }

    /// <summary>The user's subject (<c>sub</c>) at <see cref="Issuer"/>.</summary>
    public required string UserId { get; init; }

    public required string CustomerId { get; set; }

    /// <summary>Which kind of Stripe object <see cref="CustomerId"/> is: a v1 Customer or an Account v2.</summary>
    public CustomerKind Kind { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// A customer Stripe told us is gone (deleted, or the account closed). While it equals <see cref="CustomerId"/>,
    /// the user's next session first creates a replacement (CustomerResolver).
    /// </summary>
    public string? ForgottenCustomerId { get; set; }

    /// <summary>When the customer was forgotten: every instance drops that user from its memory cache after it.</summary>
    public DateTime? ForgottenAt { get; set; }

    public bool IsForgotten => ForgottenCustomerId is not null && ForgottenCustomerId == CustomerId;
}

/// <summary>UTC in, UTC out: SQLite gives DateTime back without a kind, and Npgsql refuses one without UTC.</summary>
public static class UtcDateTimes
{
    public static readonly ValueConverter<DateTime, DateTime> Converter = new(
        v => v.Kind == DateTimeKind.Utc ? v : DateTime.SpecifyKind(v.ToUniversalTime(), DateTimeKind.Utc),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    public static readonly ValueConverter<DateTime?, DateTime?> NullableConverter = new(
        v => v == null ? null : v.Value.Kind == DateTimeKind.Utc ? v : DateTime.SpecifyKind(v.Value.ToUniversalTime(), DateTimeKind.Utc),
        v => v == null ? null : DateTime.SpecifyKind(v.Value, DateTimeKind.Utc));
}

/// <summary>A Stripe event already handled: a second delivery of the same id does nothing.</summary>
public sealed class ProcessedStripeEvent
{
    public required string Id { get; init; }

    public required string Type { get; init; }

    public DateTime ReceivedAt { get; init; }
}

/// <summary>
/// The service's one database: the user → customer map, the browser sessions, the Stripe events handled, and the
/// Data Protection keys that encrypt sessions, so every instance sharing it serves every user and every logout reaches every instance. One model; each provider has its own migrations
/// (Data/Migrations/Sqlite and …/Postgres), generated against its subclass.
/// </summary>
public abstract class AppDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<CustomerLink> CustomerLinks => Set<CustomerLink>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<BrowserSession> BrowserSessions => Set<BrowserSession>();

    public DbSet<ProcessedStripeEvent> ProcessedStripeEvents => Set<ProcessedStripeEvent>();

    /// <summary>
    /// Begins a transaction in which the row keyed <paramref name="key"/> can be written by one caller at a time, across
    /// every instance that shares the database; null where the provider has no such lock.
    /// </summary>
    public abstract Task<IDbContextTransaction?> LockAsync(string key, CancellationToken cancellationToken);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var link = modelBuilder.Entity<CustomerLink>();
        link.ToTable("customer_links");
        // The user is the key: the database itself refuses a second customer for one user.
        link.HasKey(l => new { l.Issuer, l.UserId });
        // Rows from before issuers were recorded hold "" until Customers:LegacyIssuer assigns them (README).
        link.Property(l => l.Issuer).HasColumnName("issuer").HasMaxLength(IdentityLimits.MaxIssuerLength);
        link.Property(l => l.UserId).HasColumnName("user_id").HasMaxLength(IdentityLimits.MaxSubjectLength);
        link.Property(l => l.CustomerId).HasColumnName("customer_id").HasMaxLength(255);
        // Stored as text ("Customer", "Account"); rows from before the Account mode are customers.
        link.Property(l => l.Kind).HasColumnName("kind").HasConversion<string>().HasMaxLength(16).HasDefaultValue(CustomerKind.Customer).HasSentinel((CustomerKind)(-1));
        link.Property(l => l.CreatedAt).HasColumnName("created_at");
        link.Property(l => l.UpdatedAt).HasColumnName("updated_at");
        link.Property(l => l.ForgottenCustomerId).HasColumnName("forgotten_customer_id").HasMaxLength(255);
        link.Property(l => l.ForgottenAt).HasColumnName("forgotten_at").HasConversion(UtcDateTimes.NullableConverter);
        link.Ignore(l => l.IsForgotten);
        // Stripe's events name the customer, not the user; instances look for recently forgotten customers.
        link.HasIndex(l => l.CustomerId);
        link.HasIndex(l => l.ForgottenAt);

        var stripeEvent = modelBuilder.Entity<ProcessedStripeEvent>();
        stripeEvent.ToTable("processed_stripe_events");
        stripeEvent.HasKey(e => e.Id);
        stripeEvent.Property(e => e.Id).HasColumnName("id").HasMaxLength(255);
        stripeEvent.Property(e => e.Type).HasColumnName("type").HasMaxLength(255);
        stripeEvent.Property(e => e.ReceivedAt).HasColumnName("received_at").HasConversion(UtcDateTimes.Converter);
        stripeEvent.HasIndex(e => e.ReceivedAt);

        var session = modelBuilder.Entity<BrowserSession>();
        session.ToTable("browser_sessions");
        session.HasKey(b => b.KeyHash);
        session.Property(b => b.KeyHash).HasColumnName("key_hash").HasMaxLength(64);
        session.Property(b => b.Issuer).HasColumnName("issuer").HasMaxLength(IdentityLimits.MaxIssuerLength);
        session.Property(b => b.Subject).HasColumnName("subject").HasMaxLength(IdentityLimits.MaxSubjectLength);
        session.Property(b => b.Sid).HasColumnName("sid").HasMaxLength(255);
        session.Property(b => b.CreatedAt).HasColumnName("created_at").HasConversion(UtcDateTimes.Converter);
        session.Property(b => b.RenewedAt).HasColumnName("renewed_at").HasConversion(UtcDateTimes.Converter);
        session.Property(b => b.ExpiresAt).HasColumnName("expires_at").HasConversion(UtcDateTimes.Converter);
        session.Property(b => b.AbsoluteExpiresAt).HasColumnName("absolute_expires_at").HasConversion(UtcDateTimes.Converter);
        session.Property(b => b.Ticket).HasColumnName("ticket");
        // Back-channel logout ends sessions by the provider's sid or by the user; cleanup finds the expired ones.
        session.HasIndex(b => new { b.Issuer, b.Sid });
        session.HasIndex(b => new { b.Issuer, b.Subject });
        session.HasIndex(b => b.ExpiresAt);

        var key = modelBuilder.Entity<DataProtectionKey>();
        key.ToTable("data_protection_keys");
        key.Property(k => k.Id).HasColumnName("id");
        key.Property(k => k.FriendlyName).HasColumnName("friendly_name");
        key.Property(k => k.Xml).HasColumnName("xml");

        // The features' own entities, each configured beside the feature that owns it.
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(AppDbContext).Assembly);
    }
}

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

/// <summary>How long the parts of a user's identity may be: OpenID Connect caps <c>sub</c> at 255 ASCII characters.</summary>
public static class IdentityLimits
{
    public const int MaxSubjectLength = 255;

    public const int MaxIssuerLength = 512;
}

public sealed class SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options) : AppDbContext(options)
{
    /// <summary>
    /// SQLite serves one instance, where the callers' in-process locks already serialize the writers of a row;
    /// holding a SQLite transaction across a Stripe call would only block other users' writes.
    /// </summary>
    public override Task<IDbContextTransaction?> LockAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult<IDbContextTransaction?>(null);
}

public sealed class PostgresAppDbContext(DbContextOptions<PostgresAppDbContext> options) : AppDbContext(options)
{
    /// <summary>
    /// A transaction-scoped advisory lock on the key's 64-bit hash: a second instance writing the same row waits here
    /// until the first has committed, then finds its work done. Released on commit or rollback, so a crashed instance
    /// never leaves it held.
    /// </summary>
    public override async Task<IDbContextTransaction?> LockAsync(string key, CancellationToken cancellationToken)
    {
        var transaction = await Database.BeginTransactionAsync(cancellationToken);
        await Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))", cancellationToken);
        return transaction;
    }
}

/// <summary>For `dotnet ef migrations add … --context SqliteAppDbContext`, without starting the service.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteAppDbContext>
{
    public SqliteAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>For `dotnet ef migrations add … --context PostgresAppDbContext`; no server is contacted.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresAppDbContext>
{
    public PostgresAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql("Host=localhost;Database=bffsessions").Options);
}
