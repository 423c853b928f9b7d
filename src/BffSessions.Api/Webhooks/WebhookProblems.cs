using BffSessions.Hosting;

namespace BffSessions.Api.Webhooks;

/// <summary>The problems a webhook delivery can end in (docs/api.md's error table).</summary>
public static class WebhookProblems
{
    public static readonly ProblemKind InvalidSignature = new(StatusCodes.Status400BadRequest, "invalid-webhook-signature", "The Stripe-Signature does not match");

    /// <summary>Every turn to read a webhook body is taken; Stripe retries.</summary>
    public static readonly ProblemKind Busy = new(StatusCodes.Status503ServiceUnavailable, "webhooks-busy", "Too many webhook deliveries at once");

    /// <summary>The body did not arrive within Stripe:WebhookBodyTimeout.</summary>
    public static readonly ProblemKind BodyTooSlow = new(StatusCodes.Status408RequestTimeout, "webhook-body-too-slow", "The webhook body arrived too slowly");

    public const string InvalidSignatureDetail = "The body is not signed by a Stripe event destination this service knows, or the signature is too old.";

    public const string BusyDetail = "This instance is reading as many webhook bodies as it takes at once, from everyone or from this address. Retry after the time in the Retry-After header.";
}
