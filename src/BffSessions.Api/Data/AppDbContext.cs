using BffSessions.Api.Payments;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage;

namespace BffSessions.Api.Data;

/// <summary>One row per user: the Stripe customer that user pays as. Created once, read on every cache miss.</summary>
public sealed class CustomerLink
{
    public required string UserId { get; init; }

    public required string CustomerId { get; set; }

    /// <summary>Which kind of Stripe object <see cref="CustomerId"/> is: a v1 Customer or an Account v2.</summary>
    public CustomerKind Kind { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// The service's one database: the user → customer map and the Data Protection keys that encrypt session cookies,
/// so every instance sharing it serves every user. One model; each provider has its own migrations
/// (Data/Migrations/Sqlite and …/Postgres), generated against its subclass.
/// </summary>
public abstract class AppDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<CustomerLink> CustomerLinks => Set<CustomerLink>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    /// <summary>
    /// Begins a transaction in which the row keyed <paramref name="key"/> can be written by one caller at a time, across
    /// every instance that shares the database; null where the provider has no such lock.
    /// </summary>
    public abstract Task<IDbContextTransaction?> LockAsync(string key, CancellationToken cancellationToken);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var link = modelBuilder.Entity<CustomerLink>();
        link.ToTable("customer_links");
        // The user id is the key: the database itself refuses a second customer for one user.
        link.HasKey(l => l.UserId);
        link.Property(l => l.UserId).HasColumnName("user_id").HasMaxLength(255);
        link.Property(l => l.CustomerId).HasColumnName("customer_id").HasMaxLength(255);
        // Stored as text ("Customer", "Account"); rows from before the Account mode are customers.
        link.Property(l => l.Kind).HasColumnName("kind").HasConversion<string>().HasMaxLength(16).HasDefaultValue(CustomerKind.Customer).HasSentinel((CustomerKind)(-1));
        link.Property(l => l.CreatedAt).HasColumnName("created_at");
        link.Property(l => l.UpdatedAt).HasColumnName("updated_at");

        var key = modelBuilder.Entity<DataProtectionKey>();
        key.ToTable("data_protection_keys");
        key.Property(k => k.Id).HasColumnName("id");
        key.Property(k => k.FriendlyName).HasColumnName("friendly_name");
        key.Property(k => k.Xml).HasColumnName("xml");
    }
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
