using BffSessions.Hosting;

namespace BffSessions.Api.Webhooks;

/// <summary>The problems a webhook delivery can end in (see the README's error table).</summary>
public static class WebhookProblemTypes
{
    public const string InvalidSignature = ProblemTypes.Prefix + "invalid-webhook-signature";

    /// <summary>503: every turn to read a webhook body is taken; Stripe retries.</summary>
    public const string Busy = ProblemTypes.Prefix + "webhooks-busy";

    /// <summary>408: the body did not arrive within Stripe:WebhookBodyTimeout.</summary>
    public const string BodyTooSlow = ProblemTypes.Prefix + "webhook-body-too-slow";
}
