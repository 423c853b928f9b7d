using BffSessions.Hosting;

namespace BffSessions.Api.Webhooks;

/// <summary>The problems a webhook delivery can end in (see the README's error table).</summary>
public static class WebhookProblemTypes
{
    public const string InvalidSignature = ProblemTypes.Prefix + "invalid-webhook-signature";
}
