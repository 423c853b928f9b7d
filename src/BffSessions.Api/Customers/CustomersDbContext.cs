using Microsoft.EntityFrameworkCore;

namespace BffSessions.Api.Customers;

/// <summary>One row per user: the Stripe customer that user pays as. Created once, read on every session.</summary>
public sealed class CustomerLink
{
    public required string UserId { get; init; }

    public required string CustomerId { get; set; }

    public DateTimeOffset CreatedAt { get; init; }
}

public sealed class CustomersDbContext(DbContextOptions<CustomersDbContext> options) : DbContext(options)
{
    public DbSet<CustomerLink> CustomerLinks => Set<CustomerLink>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var link = modelBuilder.Entity<CustomerLink>();
        link.ToTable("customer_links");
        // The user id is the key: the database itself refuses a second customer for one user.
        link.HasKey(l => l.UserId);
        link.Property(l => l.UserId).HasColumnName("user_id").HasMaxLength(255);
        link.Property(l => l.CustomerId).HasColumnName("customer_id").HasMaxLength(255);
        link.Property(l => l.CreatedAt).HasColumnName("created_at");
    }
}
