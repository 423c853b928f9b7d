using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage;

namespace BffSessions.Api.Customers;

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
/// (Customers/Migrations/Sqlite and …/Postgres), generated against its subclass.
/// </summary>
public abstract class CustomersDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<CustomerLink> CustomerLinks => Set<CustomerLink>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    /// <summary>
    /// Begins a transaction in which this user's customer can be created by one caller at a time, across every
    /// instance that shares the database; null where the provider has no such lock.
    /// </summary>
    public abstract Task<IDbContextTransaction?> LockUserAsync(string userId, CancellationToken cancellationToken);

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

public sealed class SqliteCustomersDbContext(DbContextOptions<SqliteCustomersDbContext> options) : CustomersDbContext(options)
{
    /// <summary>
    /// SQLite serves one instance, where the resolver's in-process lock already serializes a user's creation;
    /// holding a SQLite transaction across the Stripe call would only block other users' writes.
    /// </summary>
    public override Task<IDbContextTransaction?> LockUserAsync(string userId, CancellationToken cancellationToken) =>
        Task.FromResult<IDbContextTransaction?>(null);
}

public sealed class PostgresCustomersDbContext(DbContextOptions<PostgresCustomersDbContext> options) : CustomersDbContext(options)
{
    /// <summary>
    /// A transaction-scoped advisory lock on the user id's 64-bit hash: a second instance creating the same user's
    /// customer waits here until the first has committed its link, then finds it. Released on commit or rollback,
    /// so a crashed instance never leaves it held.
    /// </summary>
    public override async Task<IDbContextTransaction?> LockUserAsync(string userId, CancellationToken cancellationToken)
    {
        var transaction = await Database.BeginTransactionAsync(cancellationToken);
        await Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({userId}, 0))", cancellationToken);
        return transaction;
    }
}

/// <summary>For `dotnet ef migrations add … --context SqliteCustomersDbContext`, without starting the service.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteCustomersDbContext>
{
    public SqliteCustomersDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteCustomersDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>For `dotnet ef migrations add … --context PostgresCustomersDbContext`; no server is contacted.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresCustomersDbContext>
{
    public PostgresCustomersDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresCustomersDbContext>().UseNpgsql("Host=localhost;Database=bffsessions").Options);
}
