using System.Globalization;
using BffSessions.Api.Customers;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

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

    public static IHostApplicationBuilder AddStripeWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ProcessedStripeEvents>();
        builder.Services.AddSingleton<WebhookIntake>();
        builder.Services.AddSingleton<WebhookMetrics>();
        builder.Services.AddHostedService<ProcessedStripeEventsCleanup>();
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
                .ProducesProblems(
                    WebhookProblems.InvalidSignature.Example(WebhookProblems.InvalidSignatureDetail),
                    WebhookProblems.BodyTooSlow.Example(),
                    CommonProblems.BodyTooLarge.Example(CommonProblems.TooLargeDetail(MaxBodyBytes)),
                    WebhookProblems.Busy.Example(WebhookProblems.BusyDetail));
        }

        return app;
    }

    /// <summary>What a delivery needs.</summary>
    internal sealed record Services(
        IStripeEventReader Stripe, CustomerResolver Customers, ProcessedStripeEvents Events, WebhookIntake Intake, WebhookMetrics Metrics,
        ILogger<ProcessedStripeEvents> Logger);

    /// <summary>
    /// Verify, claim the event id, act, answer: 200 for every delivery Stripe signed (acted on, already handled, or
    /// not one this service acts on), 400 for anything else. A failure while acting gives the claim back and answers
    /// an error, so that Stripe delivers again.
    /// </summary>
    /// <remarks>
    /// Until the signature is checked the body is anyone's, so it costs as little as can be: a header that cannot pass
    /// (stale, garbled, missing) is refused before a byte of the body is read; beyond the bodies read at once a delivery
    /// is turned away unread (503); a body slower than its time is cut off (408). Stripe delivers one event per request
    /// and retries a failed delivery for days, so turning one away loses nothing.
    /// </remarks>
    internal static async Task<Results<Ok, ProblemHttpResult>> HandleAsync(HttpContext http, [AsParameters] Services services)
    {
        var header = http.Request.Headers["Stripe-Signature"].ToString();
        if (!services.Stripe.IsWorthReading(header))
        {
            return Refused(services, "(not read)");
        }

        StripeDelivery delivery;
        using (var turn = services.Intake.TryTakeTurn(http.Connection.RemoteIpAddress))
        {
            if (turn is null)
            {
                return Busy(http, services);
            }

            using var body = await services.Intake.ReadAsync(http.Request, http.RequestAborted);
            if (body is null)
            {
                return TooSlow(http, services);
            }

            delivery = services.Stripe.Read(body.Bytes, header);
        }

        switch (delivery)
        {
            case StripeDelivery.Unreadable unreadable:
                LogUnreadable(services.Logger, LogValues.Text(unreadable.ClaimedId), unreadable.Why);
                services.Metrics.Delivered("unreadable", "ignored");
                return TypedResults.Ok();
            case StripeDelivery.NotSigned notSigned:
                return Refused(services, LogValues.Text(notSigned.ClaimedId ?? "(none)"));
        }

        var (id, type, gone) = (StripeDelivery.Verified)delivery;
        if (!await services.Events.ClaimAsync(id, type, http.RequestAborted))
        {
            LogDuplicate(services.Logger, id, type);
            services.Metrics.Delivered(MetricType(type, gone), "duplicate");
            return TypedResults.Ok();
        }

        bool forgotten;
        try
        {
            forgotten = gone is { } customer && await services.Customers.ForgetAsync(customer.Id, customer.Kind, http.RequestAborted);
        }
        catch
        {
            await services.Events.ReleaseAsync(id);
            throw;
        }

        LogHandled(services.Logger, id, type, forgotten ? "the customer is let go of" : "nothing to change");
        services.Metrics.Delivered(MetricType(type, gone), forgotten ? "customer-forgotten" : "ignored");
        return TypedResults.Ok();
    }

    /// <summary>Not signed as Stripe signs, or not read because it could not be: <paramref name="claimedId"/> is what the log line names.</summary>
    private static ProblemHttpResult Refused(Services services, string claimedId)
    {
        if (services.Intake.Refused.Count(out var refused))
        {
            LogRefused(services.Logger, claimedId, refused, WarningThrottle.Interval);
        }

        services.Metrics.Delivered("unverified", "refused");
        return WebhookProblems.InvalidSignature.Result(WebhookProblems.InvalidSignatureDetail);
    }

    /// <summary>Every turn to read a body is taken, or the sender's address's share: turned away unread, to come again when one is free.</summary>
    private static ProblemHttpResult Busy(HttpContext http, Services services)
    {
        if (services.Intake.TurnedAway.Count(out var turnedAway))
        {
            LogBusy(services.Logger, turnedAway, WarningThrottle.Interval);
        }

        services.Metrics.Delivered("unverified", "busy");
        // By then every body being read now has arrived or been cut off.
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(services.Intake.Timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return WebhookProblems.Busy.Result(WebhookProblems.BusyDetail);
    }

    /// <summary>The body did not arrive in time: what came of it is dropped, and so is the connection.</summary>
    private static ProblemHttpResult TooSlow(HttpContext http, Services services)
    {
        if (services.Intake.CutOff.Count(out var cutOff))
        {
            LogTooSlow(services.Logger, cutOff, services.Intake.Timeout, services.Intake.MinRate, WarningThrottle.Interval);
        }

        services.Metrics.Delivered("unverified", "too-slow");
        // The rest of the body is not worth waiting for (RFC 9110 §15.5.9). HTTP/2 has no such header: the stream ends.
        if (HttpProtocol.IsHttp11(http.Request.Protocol) || HttpProtocol.IsHttp10(http.Request.Protocol))
        {
            http.Response.Headers.Connection = "close";
        }

        var pace = services.Intake.MinRate > 0
            ? $", and after its first {WebhookIntake.MinRateGrace.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s at least {services.Intake.MinRate.ToString(CultureInfo.InvariantCulture)} bytes a second"
            : "";
        return WebhookProblems.BodyTooSlow.Result(
            $"The whole body must arrive within {services.Intake.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s{pace}.");
    }

    /// <summary>The event type as a metric tag: the types that tell of a gone customer by name, every other as "other" (a closed set).</summary>
    private static string MetricType(string type, CustomerRef? gone) => gone is null ? "other" : type;

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

    [LoggerMessage(EventId = 6104, Level = LogLevel.Error,
        Message = "A Stripe webhook delivery is signed, but not an event this service can read ({Why}; claimed event {StripeEventId}): acknowledged and ignored")]
    private static partial void LogUnreadable(ILogger logger, string stripeEventId, string why);

    /// <summary>
    /// At most once per <paramref name="interval"/>: <paramref name="count"/> is how many since the line before, and
    /// <paramref name="stripeEventId"/> what the one that wrote the line claimed.
    /// </summary>
    [LoggerMessage(EventId = 6101, Level = LogLevel.Warning,
        Message = "Refused a Stripe webhook delivery with a missing, wrong or stale signature (claimed event {StripeEventId}); refused since the last such line: "
                  + "{Count} (one line at most every {Interval})")]
    private static partial void LogRefused(ILogger logger, string stripeEventId, long count, TimeSpan interval);

    /// <summary>At most once per <paramref name="interval"/>: <paramref name="count"/> is how many since the line before.</summary>
    [LoggerMessage(EventId = 6105, Level = LogLevel.Warning,
        Message = "Stripe webhook deliveries turned away unread since the last such line: {Count} (one line at most every {Interval}; "
                  + "Stripe:WebhookConcurrency bodies were being read already, or Stripe:WebhookConcurrencyPerAddress from the sender's address; Stripe retries them)")]
    private static partial void LogBusy(ILogger logger, long count, TimeSpan interval);

    /// <summary>At most once per <paramref name="interval"/>: <paramref name="count"/> is how many since the line before.</summary>
    [LoggerMessage(EventId = 6106, Level = LogLevel.Warning,
        Message = "Stripe webhook deliveries cut off for a slow body since the last such line: {Count} (one line at most every {Interval}; a body must arrive "
                  + "within {WebhookBodyTimeout} and, after its first 5 s, at {WebhookBodyMinRate} bytes a second or faster; Stripe retries them)")]
    private static partial void LogTooSlow(ILogger logger, long count, TimeSpan webhookBodyTimeout, int webhookBodyMinRate, TimeSpan interval);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "Stripe event {StripeEventId} ({StripeEventType}): {Outcome}")]
    private static partial void LogHandled(ILogger logger, string stripeEventId, string stripeEventType, string outcome);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Information, Message = "Stripe event {StripeEventId} ({StripeEventType}) was delivered again: already handled")]
    private static partial void LogDuplicate(ILogger logger, string stripeEventId, string stripeEventType);
}
