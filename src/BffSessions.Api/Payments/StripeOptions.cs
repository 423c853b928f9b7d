using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using BffSessions.Api.Payments.Budget;

namespace BffSessions.Api.Payments;

/// <summary>The <c>Stripe</c> section. Code sets the defaults; configuration overrides them.</summary>
public sealed class StripeOptions
{
    public const string SectionName = "Stripe";

    /// <summary>A secret (<c>sk_…</c>) or restricted (<c>rk_…</c>) key. Absent in Development: the offline stand-in answers.</summary>
    public string? SecretKey { get; set; }

    public Uri ApiBase { get; set; } = new("https://api.stripe.com");

    /// <summary>Stripe.net's own retries of connection errors, 409 and 5xx (with backoff).</summary>
    [Range(0, 10)]
    public int MaxNetworkRetries { get; set; } = 2;

    /// <summary>The whole Stripe call's time budget, retries included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Stripe calls in flight at once, per instance; beyond it requests get 503 + Retry-After instead of queueing.</summary>
    [Range(1, 100_000)]
    public int MaxCallsInFlight { get; set; } = 256;

    /// <summary>
    /// The deployment's budget of Stripe calls per second: all instances together (customers, accounts and sessions,
    /// Stripe.net's retries included) never send more. Unset: no budget. See <see cref="StripeBudget"/>.
    /// </summary>
    [Range(1, 10_000)]
    public int? RequestsPerSecond { get; set; }

    /// <summary>How long a call may wait for its turn in the budget before the request is refused (503 stripe-busy).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan BudgetWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Handed to the demo page; never a secret.</summary>
    public string? PublishableKey { get; set; }

    public string? PricingTableId { get; set; }

    public string? BuyButtonId { get; set; }

    /// <summary>
    /// The signing secrets (<c>whsec_…</c>) of the event destinations that post to <c>/stripe/webhook</c>: one per
    /// destination (snapshot and thin events need one each), and two of one during a secret roll. Empty: webhooks off.
    /// </summary>
    public string[] WebhookSecrets { get; set; } = [];

    /// <summary>
    /// Webhook bodies read at once, per instance. Until its signature is checked a body is anyone's, and each may be
    /// 1 MiB: this bounds what strangers can make the service hold. Beyond it a delivery gets 503 + Retry-After, and
    /// Stripe delivers it again later.
    /// </summary>
    [Range(1, 1024)]
    public int WebhookConcurrency { get; set; } = 16;

    /// <summary>
    /// Of <see cref="WebhookConcurrency"/>, the bodies read at once from one client address (an IPv6 client's /64), so
    /// that one sender cannot take every turn. Behind a proxy every client has the proxy's address unless forwarded
    /// headers are trusted (ASPNETCORE_FORWARDEDHEADERS_ENABLED).
    /// </summary>
    [Range(1, 1024)]
    public int WebhookConcurrencyPerAddress { get; set; } = 4;

    /// <summary>How long a webhook body may take to arrive, all of it; a slower one is cut off (408) and Stripe retries.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan WebhookBodyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bytes a second a webhook body must keep up after its first 5 s (WebhookIntake.MinRateGrace: room for a lost
    /// TCP segment to be sent again), or it is cut off (408) at once rather than at <see cref="WebhookBodyTimeout"/>:
    /// with a longer body time, a body sent a byte at a time still gives its turn back after about 5 s. With the
    /// default 5 s body time it adds nothing. Stripe sends its few kilobytes at once. 0: no such check.
    /// </summary>
    [Range(0, 1024 * 1024)]
    public int WebhookBodyMinRate { get; set; } = 16 * 1024;

    /// <summary>
    /// How long Stripe may take to show a new customer in search ("searchable in less than a minute"): a creation that
    /// ended in a 500 is looked up (and its customer, if any, deleted or kept) only after this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SearchLag { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Development's offline mode (no <see cref="SecretKey"/>): the file where the in-process Stripe stand-in keeps its
    /// customers, so the ones the customer map names still exist after a restart.
    /// </summary>
    public string OfflineStateFile { get; set; } = "bffsessions-stripe-offline.json";

    public bool UsesOfflineStandIn => string.IsNullOrWhiteSpace(SecretKey);

    /// <summary>
    /// The signing secret of local testing (appsettings.Development.json, tools/send-stripe-event): public, so trusted
    /// only in Development with the offline stand-in, where no real customer can be touched.
    /// </summary>
    public const string LocalTestWebhookSecret = "whsec_local_test_secret";
}

/// <summary>
/// Fails start-up with a message that names the setting. The key's value is never repeated in the message:
/// a start-up failure is logged, and logs must not hold keys.
/// </summary>
public sealed class StripeOptionsValidator(IHostEnvironment environment) : IValidateOptions<StripeOptions>
{
    public ValidateOptionsResult Validate(string? name, StripeOptions options)
    {
        if (!options.ApiBase.IsAbsoluteUri || (options.ApiBase.Scheme != Uri.UriSchemeHttps && options.ApiBase.Scheme != Uri.UriSchemeHttp))
        {
            return ValidateOptionsResult.Fail("Stripe:ApiBase must be an absolute http(s) URL, such as https://api.stripe.com.");
        }

        if (options.WebhookSecrets.Contains(StripeOptions.LocalTestWebhookSecret) && !environment.IsDevelopment())
        {
            return ValidateOptionsResult.Fail(
                $"Stripe:WebhookSecrets holds {StripeOptions.LocalTestWebhookSecret}, the public secret of local testing: anyone could sign events with it. Use the whsec_… of your event destination.");
        }

        if (options.WebhookSecrets.Any(secret => !secret.StartsWith("whsec_", StringComparison.Ordinal) || secret.Length < 10))
        {
            return ValidateOptionsResult.Fail(
                "Stripe:WebhookSecrets holds something that is not a webhook signing secret: each must be the whsec_… value Stripe shows for an event destination (or `stripe listen` prints).");
        }

        if (options.WebhookConcurrencyPerAddress > options.WebhookConcurrency)
        {
            return ValidateOptionsResult.Fail(
                "Stripe:WebhookConcurrencyPerAddress must not be more than Stripe:WebhookConcurrency: it is one address's share of those turns (equal to it: no share).");
        }

        if (options.RequestsPerSecond is not null && options.BudgetWait >= options.Timeout)
        {
            return ValidateOptionsResult.Fail(
                "Stripe:BudgetWait must be shorter than Stripe:Timeout: a call that waits all of its time for a turn has none left for Stripe.");
        }

        var key = options.SecretKey?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            return environment.IsDevelopment()
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(
                    "Stripe:SecretKey is required outside Development (env var Stripe__SecretKey): a secret key sk_… or a restricted key rk_….");
        }

        if (key.StartsWith("pk_", StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Fail(
                "Stripe:SecretKey holds a publishable key (pk_…). It must be a secret key sk_… or a restricted key rk_…; the publishable key belongs in Stripe:PublishableKey.");
        }

        if (!key.StartsWith("sk_", StringComparison.Ordinal) && !key.StartsWith("rk_", StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Fail("Stripe:SecretKey is not a Stripe secret key: it must start with sk_ or rk_.");
        }

        return ValidateOptionsResult.Success;
    }
}
