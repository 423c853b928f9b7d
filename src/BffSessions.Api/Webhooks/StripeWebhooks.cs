using System.Text;
using System.Text.Json;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Stripe;
using Stripe.Events;

namespace BffSessions.Api.Webhooks;

/// <summary>
/// <c>POST /stripe/webhook</c>: Stripe tells us first. A customer deleted in the Dashboard (<c>customer.deleted</c>)
/// or an account closed (<c>v2.core.account.closed</c>) is let go of in the map at once, so the user's next session
/// creates a new one before any session call, instead of failing on the gone one and healing afterwards.
/// </summary>
public static partial class StripeWebhooks
{
    public const string Path = "/stripe/webhook";

    /// <summary>Stripe's events can be tens of kilobytes, more than the API's own cap; this is their cap.</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>The v2 event type; Stripe.net 53 has a class for it but no constant.</summary>
    public const string AccountClosed = "v2.core.account.closed";

    /// <summary>How long an event id is remembered: Stripe retries a delivery for up to three days.</summary>
    private static readonly TimeSpan RememberEventsFor = TimeSpan.FromDays(7);

    public static IHostApplicationBuilder AddStripeWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<WebhooksAtStart>();
        return builder;
    }

    /// <summary>
    /// Mapped only with a secret configured: without one no delivery could be trusted, and the path is a 404. It needs
    /// no user, no CSRF header and no per-user limit (Stripe sends none of them), and never acts on an unsigned body.
    /// </summary>
    public static IEndpointRouteBuilder MapStripeWebhooks(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<IOptions<StripeOptions>>().Value.WebhookSecrets.Length > 0)
        {
            app.MapPost(Path, HandleAsync)
                .AllowAnonymous()
                .DisableAntiforgery()
                .WithMetadata(new LargerBodyAllowed(MaxBodyBytes))
                .WithTags("Stripe")
                .WithSummary("Signed Stripe events: customer.deleted and v2.core.account.closed keep the customer map right")
                .ProducesProblem(StatusCodes.Status400BadRequest)
                .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        }

        return app;
    }

    public static async Task<IResult> HandleAsync(
        HttpContext http, StripeClient stripe, CustomerResolver customers, IDbContextFactory<AppDbContext> databases,
        IOptions<StripeOptions> options, ServiceMetrics metrics, TimeProvider time, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(StripeWebhooks));
        string body;
        using (var reader = new StreamReader(http.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(http.RequestAborted);
        }

        // The signature over the exact bytes received, with the first secret that made it, then Stripe.net's own parse
        // with that secret and Stripe's default tolerance (300 s) against replays.
        var header = http.Request.Headers["Stripe-Signature"].ToString();
        if (Verify(body, header, options.Value.WebhookSecrets, stripe, time.GetUtcNow()) is not { } received)
        {
            LogRefused(logger, ClaimedId(body) ?? "(unreadable)");
            metrics.WebhookEvent("unverified", "refused");
            return Problems.Result(StatusCodes.Status400BadRequest, WebhookProblemTypes.InvalidSignature, "The Stripe-Signature does not match",
                "The body is not signed by a Stripe event destination this service knows, or the signature is too old.");
        }

        var (id, type, customerId) = received;
        await using var db = await databases.CreateDbContextAsync(http.RequestAborted);
        if (await db.ProcessedStripeEvents.AnyAsync(e => e.Id == id, http.RequestAborted))
        {
            LogDuplicate(logger, id, type);
            metrics.WebhookEvent(type, "duplicate");
            return TypedResults.Ok();
        }

        var forgotten = customerId is not null && await customers.ForgetAsync(customerId, http.RequestAborted);
        // Remembered after the work, so a failure leaves Stripe's retry to do it; a retry after success is a no-op anyway.
        var now = time.GetUtcNow().UtcDateTime;
        db.ProcessedStripeEvents.Add(new ProcessedStripeEvent { Id = id, Type = type, ReceivedAt = now });
        await db.ProcessedStripeEvents.Where(e => e.ReceivedAt < now - RememberEventsFor).ExecuteDeleteAsync(http.RequestAborted);
        try
        {
            await db.SaveChangesAsync(http.RequestAborted);
        }
        catch (DbUpdateException)
        {
            // The same event, delivered twice at once: the other delivery recorded it.
        }

        LogHandled(logger, id, type, forgotten ? "the customer is let go of" : "nothing to change");
        metrics.WebhookEvent(type, forgotten ? "customer-forgotten" : "ignored");
        return TypedResults.Ok();
    }

    /// <summary>What a verified event says: its id and type, and the customer it is about when it is one we handle.</summary>
    public sealed record ReceivedEvent(string Id, string Type, string? CustomerId);

    /// <summary>The event, when <paramref name="header"/> signs <paramref name="body"/> with one of <paramref name="secrets"/>; else null.</summary>
    public static ReceivedEvent? Verify(string body, string? header, IReadOnlyList<string> secrets, StripeClient stripe, DateTimeOffset now)
    {
        // Stripe.net throws a NullReferenceException on a missing header: say no before asking it.
        if (string.IsNullOrWhiteSpace(header))
        {
            return null;
        }

        var secret = secrets.FirstOrDefault(s => SignedWith(body, header, s, now));
        if (secret is null)
        {
            return null;
        }

        try
        {
            return ObjectOf(body) switch
            {
                "event" => FromSnapshot(body, header, secret),
                "v2.core.event" => stripe.ParseEventNotification(body, header, secret) switch
                {
                    V2CoreAccountClosedEventNotification closed => new ReceivedEvent(closed.Id, closed.Type, closed.RelatedObject?.Id),
                    var other => new ReceivedEvent(other.Id, other.Type, null),
                },
                _ => null,
            };
        }
        catch (Exception e) when (e is StripeException or ArgumentException or JsonException or Newtonsoft.Json.JsonException or FormatException or OverflowException)
        {
            return null; // outside the tolerance (only the parse checks it), or not an event at all
        }
    }

    /// <summary>
    /// A snapshot event: Stripe.net parses it whatever its api_version (an event destination may be pinned to another).
    /// Should a field of an older version not fit today's types, the three fields needed are read from the JSON itself.
    /// </summary>
    private static ReceivedEvent FromSnapshot(string body, string header, string secret)
    {
        try
        {
            var snapshot = EventUtility.ConstructEvent(body, header, secret, throwOnApiVersionMismatch: false);
            return new ReceivedEvent(snapshot.Id, snapshot.Type,
                snapshot.Type == EventTypes.CustomerDeleted ? (snapshot.Data?.Object as Customer)?.Id : null);
        }
        catch (JsonException)
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var type = root.GetProperty("type").GetString()!;
            return new ReceivedEvent(root.GetProperty("id").GetString()!, type,
                type == EventTypes.CustomerDeleted ? root.GetProperty("data").GetProperty("object").GetProperty("id").GetString() : null);
        }
    }

    /// <summary>The signature alone (any age): the parse that follows applies Stripe's tolerance with the secret that matched.</summary>
    private static bool SignedWith(string body, string header, string secret, DateTimeOffset now)
    {
        try
        {
            EventUtility.ValidateSignature(body, header, secret, tolerance: long.MaxValue, utcNow: now.ToUnixTimeSeconds());
            return true;
        }
        catch (Exception e) when (e is StripeException or FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string? ObjectOf(string body) => ReadTopLevel(body, "object");

    /// <summary>The id the body claims, for the log of a refused delivery: never trusted, never more than an id.</summary>
    private static string? ClaimedId(string body) => ReadTopLevel(body, "id") is { Length: <= 255 } id ? LogValues.Text(id) : null;

    private static string? ReadTopLevel(string body, string name)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var value)
                && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Says once, at start, whether webhooks are on.</summary>
    private sealed partial class WebhooksAtStart(IOptions<StripeOptions> options, ILogger<WebhooksAtStart> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var secrets = options.Value.WebhookSecrets.Length;
            if (secrets == 0)
            {
                LogOff(logger);
            }
            else
            {
                LogOn(logger, secrets);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Stripe webhooks are off: Stripe:WebhookSecrets is empty, so POST /stripe/webhook does not exist")]
        private static partial void LogOff(ILogger logger);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Stripe webhooks are on at POST /stripe/webhook, with {Count} signing secret(s)")]
        private static partial void LogOn(ILogger logger, int count);
    }

    [LoggerMessage(EventId = 6101, Level = LogLevel.Warning, Message = "Refused a Stripe webhook delivery with a missing, wrong or stale signature (claimed event {StripeEventId})")]
    private static partial void LogRefused(ILogger logger, string stripeEventId);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "Stripe event {StripeEventId} ({StripeEventType}): {Outcome}")]
    private static partial void LogHandled(ILogger logger, string stripeEventId, string stripeEventType, string outcome);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Information, Message = "Stripe event {StripeEventId} ({StripeEventType}) was delivered again: already handled")]
    private static partial void LogDuplicate(ILogger logger, string stripeEventId, string stripeEventType);
}
