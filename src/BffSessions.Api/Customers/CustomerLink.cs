using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BffSessions.Api.Customers;

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

/// <summary>The table <c>customer_links</c>: Customers' own, applied by the context with the other features' configurations.</summary>
public sealed class CustomerLinkConfiguration : IEntityTypeConfiguration<CustomerLink>
{
    public void Configure(EntityTypeBuilder<CustomerLink> builder)
    {
        builder.ToTable("customer_links");
        // The user is the key: the database itself refuses a second customer for one user.
        builder.HasKey(l => new { l.Issuer, l.UserId });
        // Rows from before issuers were recorded hold "" until Customers:LegacyIssuer assigns them (docs/operations.md, "Upgrading").
        builder.Property(l => l.Issuer).HasColumnName("issuer").HasMaxLength(IdentityLimits.MaxIssuerLength);
        builder.Property(l => l.UserId).HasColumnName("user_id").HasMaxLength(IdentityLimits.MaxSubjectLength);
        builder.Property(l => l.CustomerId).HasColumnName("customer_id").HasMaxLength(255);
        // Stored as text ("Customer", "Account"); rows from before the Account mode are customers.
        builder.Property(l => l.Kind).HasColumnName("kind").HasConversion<string>().HasMaxLength(16).HasDefaultValue(CustomerKind.Customer).HasSentinel((CustomerKind)(-1));
        builder.Property(l => l.CreatedAt).HasColumnName("created_at");
        builder.Property(l => l.UpdatedAt).HasColumnName("updated_at");
        builder.Property(l => l.ForgottenCustomerId).HasColumnName("forgotten_customer_id").HasMaxLength(255);
        builder.Property(l => l.ForgottenAt).HasColumnName("forgotten_at").HasConversion(UtcDateTimes.NullableConverter);
        builder.Ignore(l => l.IsForgotten);
        // Stripe's events name the customer, not the user; instances look for recently forgotten customers.
        builder.HasIndex(l => l.CustomerId);
        builder.HasIndex(l => l.ForgottenAt);
    }
}

/// <summary>The user → customer map as a set of the service's one context.</summary>
public static class CustomerLinkSet
{
    extension(AppDbContext db)
    {
        public DbSet<CustomerLink> CustomerLinks => db.Set<CustomerLink>();
    }
}
