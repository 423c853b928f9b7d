using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BffSessions.Api.Webhooks;

/// <summary>A Stripe event already handled: a second delivery of the same id does nothing.</summary>
public sealed class ProcessedStripeEvent
{
    public required string Id { get; init; }

    public required string Type { get; init; }

    public DateTime ReceivedAt { get; init; }
}

/// <summary>The table <c>processed_stripe_events</c>: Webhooks' own.</summary>
public sealed class ProcessedStripeEventConfiguration : IEntityTypeConfiguration<ProcessedStripeEvent>
{
    public void Configure(EntityTypeBuilder<ProcessedStripeEvent> builder)
    {
        builder.ToTable("processed_stripe_events");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).HasColumnName("id").HasMaxLength(255);
        builder.Property(e => e.Type).HasColumnName("type").HasMaxLength(255);
        builder.Property(e => e.ReceivedAt).HasColumnName("received_at").HasConversion(UtcDateTimes.Converter);
        builder.HasIndex(e => e.ReceivedAt);
    }
}

/// <summary>The Stripe events already handled, as a set of the service's one context.</summary>
public static class ProcessedStripeEventSet
{
    extension(AppDbContext db)
    {
        public DbSet<ProcessedStripeEvent> ProcessedStripeEvents => db.Set<ProcessedStripeEvent>();
    }
}
