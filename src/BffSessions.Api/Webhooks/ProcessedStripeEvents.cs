using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using BffSessions.Hosting;

namespace BffSessions.Api.Webhooks;

/// <summary>
/// The Stripe events already taken (table <c>processed_stripe_events</c>, shared by every instance): Stripe delivers
/// an event at least once, sometimes twice at the same moment, and each must be handled once.
/// </summary>
public sealed class ProcessedStripeEvents(IDbContextFactory<AppDbContext> databases, TimeProvider time)
{
    /// <summary>How long an event id is remembered: Stripe retries a delivery for up to three days.</summary>
    public static readonly TimeSpan RememberFor = TimeSpan.FromDays(7);

    /// <summary>
    /// Claims the event for this delivery, before it is handled: true for the first delivery of it, on any instance;
    /// false for every other, even one arriving at the same moment (the primary key decides, without an error).
    /// </summary>
    public async Task<bool> ClaimAsync(string id, string type, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        // ON CONFLICT DO NOTHING reads the same on SQLite and PostgreSQL.
        return await db.Database.ExecuteSqlAsync(
            $"INSERT INTO processed_stripe_events (id, type, received_at) VALUES ({id}, {type}, {now}) ON CONFLICT (id) DO NOTHING",
            cancellationToken) == 1;
    }

    /// <summary>The handling failed: the claim goes, so that Stripe's retry handles the event. Not cancelled with the request.</summary>
    public async Task ReleaseAsync(string id)
    {
        await using var db = await databases.CreateDbContextAsync(CancellationToken.None);
        await db.ProcessedStripeEvents.Where(e => e.Id == id).ExecuteDeleteAsync(CancellationToken.None);
    }

    /// <summary>Forgets events older than <see cref="RememberFor"/>; returns how many.</summary>
    public async Task<int> ForgetOldAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().UtcDateTime - RememberFor;
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.ProcessedStripeEvents.Where(e => e.ReceivedAt < before).ExecuteDeleteAsync(cancellationToken);
    }
}

/// <summary>
/// Forgets old event ids hourly, on every instance (forgetting twice is harmless). The first time a minute after start:
/// out of start-up's way (its query would be the first to build EF Core's model, on the cores the readiness probe
/// waits for), yet soon enough that instances restarted more often than hourly still clean up.
/// </summary>
public sealed partial class ProcessedStripeEventsCleanup(ProcessedStripeEvents events, TimeProvider time, ILogger<ProcessedStripeEventsCleanup> logger)
    : BackgroundService
{
    private static readonly TimeSpan FirstAfter = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Delay(FirstAfter, time, stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            try
            {
                using var unobserved = Telemetry.Unobserved();
                if (await events.ForgetOldAsync(stoppingToken) is > 0 and var forgotten)
                {
                    LogForgotten(logger, forgotten);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetBaseException().Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = 6201, Level = LogLevel.Debug, Message = "Forgot {Count} Stripe event id(s) older than a week")]
    private static partial void LogForgotten(ILogger logger, int count);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Warning, Message = "Could not forget old Stripe event ids (tried again in an hour): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
