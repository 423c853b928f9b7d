using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace BffSessions.Api.Data;

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

/// <summary>
/// The service's one database: the user → customer map, the browser sessions, the Stripe events handled, and the
/// Data Protection keys that encrypt sessions, so every instance sharing it serves every user and every logout reaches every instance. One model; each provider has its own migrations
/// (Data/Migrations/Sqlite and …/Postgres), generated against its subclass.
/// </summary>
public abstract class AppDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    /// <summary>
    /// Begins a transaction in which the row keyed <paramref name="key"/> can be written by one caller at a time, across
    /// every instance that shares the database; null where the provider has no such lock.
    /// </summary>
    public abstract Task<IDbContextTransaction?> LockAsync(string key, CancellationToken cancellationToken);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Data Protection's keys are Data's own; the features' entities are configured beside each feature.
        var key = modelBuilder.Entity<DataProtectionKey>();
        key.ToTable("data_protection_keys");
        key.Property(k => k.Id).HasColumnName("id");
        key.Property(k => k.FriendlyName).HasColumnName("friendly_name");
        key.Property(k => k.Xml).HasColumnName("xml");

        // The features' own entities, each configured beside the feature that owns it.
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(AppDbContext).Assembly);
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
