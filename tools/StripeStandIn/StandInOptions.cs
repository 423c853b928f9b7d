namespace BffSessions.StandIn;

/// <summary>
/// How the stand-in behaves. Every default is Stripe's documented behaviour for a sandbox account; a test or the
/// benchmark changes one only to model another account (a raised rate limit) or to shorten a wait, and says so.
/// Settings may change while the stand-in runs (the control API, or a test).
/// </summary>
public sealed class StandInOptions
{
    /// <summary>Stripe's customer sessions expire 30 minutes after they are created.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long a new customer takes to show in search. Stripe: "searchable in less than a minute", so by default a
    /// full minute: search is never read-after-write.
    /// </summary>
    public TimeSpan SearchLag { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a v1 idempotency key is kept: Stripe prunes keys "after they're at least 24 hours old".</summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>API v2 keeps its idempotency keys for 30 days.</summary>
    public TimeSpan V2IdempotencyRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Added before every answer to the Stripe API (not to the control API).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Stripe's rate limits (docs.stripe.com/rate-limits).</summary>
    public RateLimits RateLimits { get; set; } = new();

    /// <summary>Where deletions are announced as signed events (<c>customer.deleted</c>, <c>v2.core.account.closed</c>); none by default.</summary>
    public Uri? WebhookUrl { get; set; }

    /// <summary>The event destination's signing secret (<c>whsec_…</c>).</summary>
    public string? WebhookSecret { get; set; }

    /// <summary>
    /// A file that keeps the customers and accounts across restarts (Development's offline mode: the service's map
    /// outlives the process, and so must the customers it names). None: state lives in memory only.
    /// </summary>
    public string? StateFile { get; set; }

    /// <summary>The most requests kept for <see cref="StripeStandIn.Requests"/>; older ones are dropped (the benchmark's long runs).</summary>
    public int MaxRecordedRequests { get; set; } = int.MaxValue;

    /// <summary>The stand-in's clock: a test may give it a fake one.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;
}

/// <summary>
/// Stripe's rate limits: operations per second for the whole account (25 in a sandbox, 100 in live mode), 25 per
/// second per endpoint unless stated otherwise, and 20 per second for search. A refused call is a 429 with code
/// <c>rate_limit</c> and a <c>Stripe-Rate-Limited-Reason</c> header.
/// </summary>
public sealed class RateLimits
{
    /// <summary>Whole-account operations per second with a test key (<c>sk_test_</c>, <c>rk_test_</c>).</summary>
    public int SandboxPerSecond { get; set; } = 25;

    /// <summary>Whole-account operations per second with a live key.</summary>
    public int LivePerSecond { get; set; } = 100;

    /// <summary>Calls per second to any one endpoint.</summary>
    public int PerEndpointPerSecond { get; set; } = 25;

    /// <summary>Search calls per second.</summary>
    public int SearchPerSecond { get; set; } = 20;

    /// <summary>
    /// What the 429 says in <c>Stripe-Should-Retry</c>: false by default, so Stripe.net does not retry it; true models
    /// Stripe asking for a retry.
    /// </summary>
    public bool ShouldRetry { get; set; }

    /// <summary>No rate limit at all: only for measuring something else (the benchmark's throughput runs).</summary>
    public static RateLimits Unlimited => new()
    {
        SandboxPerSecond = int.MaxValue, LivePerSecond = int.MaxValue, PerEndpointPerSecond = int.MaxValue, SearchPerSecond = int.MaxValue,
    };

    /// <summary>An account whose limits Stripe raised to <paramref name="perSecond"/> on every count.</summary>
    public static RateLimits Raised(int perSecond) => new()
    {
        SandboxPerSecond = perSecond, LivePerSecond = perSecond, PerEndpointPerSecond = perSecond, SearchPerSecond = perSecond,
    };
}

/// <summary>
/// A failure to inject on one path, as Stripe would produce it. Injected answers go through the idempotency layer like
/// any other: a stored 500 is replayed for its key.
/// </summary>
public sealed record Fault
{
    /// <summary>The API path it applies to, such as <c>/v1/customers</c>.</summary>
    public required string Path { get; init; }

    /// <summary>The status to answer (500 by default).</summary>
    public int Status { get; init; } = 500;

    public string Type { get; init; } = "api_error";

    public string? Code { get; init; }

    public string Message { get; init; } = "An unknown error occurred.";

    /// <summary>How many calls it applies to before it is used up.</summary>
    public int Times { get; init; } = 1;

    /// <summary>When the fault strikes.</summary>
    public FaultMode Mode { get; init; } = FaultMode.Before;
}

public enum FaultMode
{
    /// <summary>Nothing is done; the fault is the answer (and stored for the key).</summary>
    Before,

    /// <summary>The work is done (a customer exists), then the fault is the answer: a 500 whose outcome is not what it says.</summary>
    After,

    /// <summary>The work is done and stored for the key, then the connection drops: the caller never hears the answer.</summary>
    Drop,
}
