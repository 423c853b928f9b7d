using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BffSessions.Api.Customers;

/// <summary>
/// A creation of a user's Stripe customer, recorded before Stripe is called (eShop's RequestManager does the same for
/// its commands): its idempotency key and exactly the values sent. The row goes when the customer is in the map.
/// </summary>
public sealed class CustomerCreationAttempt
{
    public required string IdempotencyKey { get; init; }

    public required string Issuer { get; init; }

    public required string UserId { get; init; }

    public CustomerKind Kind { get; init; }

    public string? Email { get; init; }

    public string? Name { get; init; }

    public string? Replacing { get; init; }

    public CreationState State { get; set; }

    public DateTime StartedAt { get; init; }

    /// <summary>When the state last changed; an attempt open for <see cref="CustomerCreationSettler.OpenFor"/> since is settled.</summary>
    public DateTime UpdatedAt { get; set; }

    /// <summary>When an unsettled attempt is next looked for in Stripe's search (it shows a new customer only after a lag).</summary>
    public DateTime? SettleAfter { get; set; }

    public CustomerCreation ToCreation() => new(IdempotencyKey, Kind, Issuer, UserId, Email, Name, Replacing);

    public static CustomerCreationAttempt Of(CustomerCreation creation, DateTime now) => new()
    {
        IdempotencyKey = creation.Key,
        Issuer = creation.Issuer,
        UserId = creation.UserId,
        Kind = creation.Kind,
        Email = creation.Email,
        Name = creation.Name,
        Replacing = creation.Replacing,
        State = CreationState.Pending,
        StartedAt = now,
        UpdatedAt = now,
    };
}

public enum CreationState
{
    /// <summary>
    /// Sent, or about to be, with no answer yet (or the answer was lost: a timeout, a dropped connection). The user's
    /// next creation sends it again, same key and values, and gets back what the lost call made.
    /// </summary>
    Pending,

    /// <summary>
    /// Whether Stripe made a customer is unknown and the key is not to be sent again: Stripe answered with a failure
    /// it keeps for the key (a 5xx, an idempotency_error), or the attempt was superseded (another kind, another
    /// replacement), or it lost a race to another process on the same SQLite file. Settled by search
    /// (CustomerCreationSettler): a customer it finds is kept if the user has none, and deleted otherwise. An Account v2
    /// attempt, which search cannot find, is let go once Stripe no longer holds its key.
    /// </summary>
    Unsettled,
}

/// <summary>The table <c>customer_creations</c>: Customers' own, applied by the context with the other features' configurations.</summary>
public sealed class CustomerCreationAttemptConfiguration : IEntityTypeConfiguration<CustomerCreationAttempt>
{
    public void Configure(EntityTypeBuilder<CustomerCreationAttempt> builder)
    {
        builder.ToTable("customer_creations");
        builder.HasKey(a => a.IdempotencyKey);
        builder.Property(a => a.IdempotencyKey).HasColumnName("idempotency_key").HasMaxLength(255);
        builder.Property(a => a.Issuer).HasColumnName("issuer").HasMaxLength(IdentityLimits.MaxIssuerLength);
        builder.Property(a => a.UserId).HasColumnName("user_id").HasMaxLength(IdentityLimits.MaxSubjectLength);
        builder.Property(a => a.Kind).HasColumnName("kind").HasConversion<string>().HasMaxLength(16);
        builder.Property(a => a.Email).HasColumnName("email").HasMaxLength(StripeCustomerFields.MaxEmailLength);
        builder.Property(a => a.Name).HasColumnName("name").HasMaxLength(StripeCustomerFields.MaxNameLength);
        builder.Property(a => a.Replacing).HasColumnName("replacing").HasMaxLength(255);
        builder.Property(a => a.State).HasColumnName("state").HasConversion<string>().HasMaxLength(16);
        builder.Property(a => a.StartedAt).HasColumnName("started_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(a => a.UpdatedAt).HasColumnName("updated_at").HasConversion(UtcDateTimes.Converter);
        builder.Property(a => a.SettleAfter).HasColumnName("settle_after").HasConversion(UtcDateTimes.NullableConverter);
        // A user's open attempt is found by the user; the settler finds the ones due by state and time.
        builder.HasIndex(a => new { a.Issuer, a.UserId });
        builder.HasIndex(a => new { a.State, a.SettleAfter });
        builder.HasIndex(a => new { a.State, a.UpdatedAt });
    }
}
