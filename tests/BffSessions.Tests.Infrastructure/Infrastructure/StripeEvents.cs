using System.Globalization;
using System.Text.Json.Nodes;
using Stripe;

namespace BffSessions.Tests.Infrastructure;

/// <summary>Stripe's event deliveries, shaped and signed as Stripe sends them (Stripe-Signature: t=…,v1=HMAC-SHA256).</summary>
public static class StripeEvents
{
    /// <summary>A snapshot event: <c>customer.deleted</c> carries the customer as it was before it was deleted.</summary>
    public static string CustomerDeleted(string customerId, string? eventId = null, string? apiVersion = null, string? padding = null) =>
        Snapshot("customer.deleted", new JsonObject
        {
            ["id"] = customerId,
            ["object"] = "customer",
            ["balance"] = 0,
            ["created"] = 1_767_225_600,
            ["email"] = "ada@example.com",
            ["livemode"] = false,
            ["description"] = padding,
            ["metadata"] = new JsonObject { ["user_id"] = "someone" },
            ["preferred_locales"] = new JsonArray(),
            ["tax_exempt"] = "none",
        }, eventId, apiVersion);

    public static string Snapshot(string type, JsonObject dataObject, string? eventId = null, string? apiVersion = null) => new JsonObject
    {
        ["id"] = eventId ?? NewEventId(),
        ["object"] = "event",
        ["api_version"] = apiVersion ?? StripeConfiguration.ApiVersion,
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["data"] = new JsonObject { ["object"] = dataObject },
        ["livemode"] = false,
        ["pending_webhooks"] = 1,
        ["request"] = new JsonObject { ["id"] = "req_webhook_test", ["idempotency_key"] = null },
        ["type"] = type,
    }.ToJsonString();

    /// <summary>A v2 event notification ("thin" event): only the related object's id, no snapshot of it.</summary>
    public static string AccountClosed(string accountId, string? eventId = null) => Thin("v2.core.account.closed", accountId, eventId);

    public static string Thin(string type, string? relatedId, string? eventId = null) => new JsonObject
    {
        ["id"] = eventId ?? NewEventId(),
        ["object"] = "v2.core.event",
        ["type"] = type,
        ["livemode"] = false,
        ["created"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["context"] = null,
        ["related_object"] = relatedId is null ? null : new JsonObject
        {
            ["id"] = relatedId,
            ["type"] = "v2.core.account",
            ["url"] = $"/v2/core/accounts/{relatedId}",
        },
    }.ToJsonString();

    /// <summary>The Stripe-Signature header for <paramref name="body"/>: one v1 signature per secret, as during a secret roll.</summary>
    public static string Signature(string body, DateTimeOffset at, params string[] secrets)
    {
        var timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={timestamp}," + string.Join(',', secrets.Select(secret => "v1=" + EventUtility.ComputeSignature(secret, timestamp, body)));
    }

    public static string NewEventId() => "evt_test_" + Guid.NewGuid().ToString("N");

    /// <summary>Posts <paramref name="body"/> to <paramref name="api"/> signed now with <paramref name="secret"/>, as an event destination does.</summary>
    public static async Task<HttpResponseMessage> DeliverAsync(ApiFactory api, string secret, string body)
    {
        using var client = api.CreateApiClient();
        return await DeliverAsync(client, body, Signature(body, DateTimeOffset.UtcNow, secret));
    }

    /// <summary>Posts a delivery as Stripe does.</summary>
    public static async Task<HttpResponseMessage> DeliverAsync(HttpClient client, string body, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stripe/webhook")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        }

        return await client.SendAsync(request);
    }
}
