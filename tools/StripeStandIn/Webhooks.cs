using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

/// <summary>One delivery attempt of an event to the configured destination, and what it answered (0: no answer).</summary>
public sealed record WebhookDelivery(string EventId, string Type, int Attempt, int Status);

/// <summary>
/// Stripe's event deliveries: signed (<c>Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")</c>), at least once,
/// retried with back-off until the destination answers 2xx (Stripe tries for three days; the stand-in five times).
/// </summary>
internal sealed class WebhookSender(StandInOptions options) : IDisposable
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)];

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<WebhookDelivery> _deliveries = new();
    private readonly ConcurrentDictionary<Task, byte> _pending = new();

    public IReadOnlyList<WebhookDelivery> Deliveries => _deliveries.ToArray();

    /// <summary>Sends <c>customer.deleted</c> with the customer as it was (a snapshot event), in the background.</summary>
    public void CustomerDeleted(JsonObject customer) => Send("customer.deleted", new JsonObject
    {
        ["id"] = NewId("evt_"),
        ["object"] = "event",
        ["api_version"] = ApiVersion,
        ["created"] = options.Time.GetUtcNow().ToUnixTimeSeconds(),
        ["data"] = new JsonObject { ["object"] = customer.DeepClone() },
        ["livemode"] = false,
        ["pending_webhooks"] = 1,
        ["request"] = new JsonObject { ["id"] = null, ["idempotency_key"] = null },
        ["type"] = "customer.deleted",
    });

    /// <summary>Sends <c>v2.core.account.closed</c>, a thin event: only the account's id, which a handler fetches if it must.</summary>
    public void AccountClosed(string accountId) => Send("v2.core.account.closed", new JsonObject
    {
        ["id"] = NewId("evt_"),
        ["object"] = "v2.core.event",
        ["type"] = "v2.core.account.closed",
        ["livemode"] = false,
        ["created"] = options.Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["context"] = null,
        ["related_object"] = new JsonObject { ["id"] = accountId, ["type"] = "v2.core.account", ["url"] = $"/v2/core/accounts/{accountId}" },
    });

    /// <summary>Waits until every delivery started so far has ended (answered 2xx, or given up).</summary>
    public Task WhenDeliveredAsync() => Task.WhenAll(_pending.Keys);

    /// <summary>The header Stripe signs a delivery with, for <paramref name="body"/> sent at <paramref name="at"/>.</summary>
    public static string Signature(string secret, string body, DateTimeOffset at)
    {
        var timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + body));
        return $"t={timestamp},v1={Convert.ToHexStringLower(mac)}";
    }

    /// <summary>The API version events are rendered in: the one Stripe.net 53 pins.</summary>
    public const string ApiVersion = "2026-10-28.endive";

    private void Send(string type, JsonObject @event)
    {
        if (options.WebhookUrl is not { } url || string.IsNullOrEmpty(options.WebhookSecret))
        {
            return;
        }

        var secret = options.WebhookSecret;
        var id = @event["id"]!.GetValue<string>();
        var body = @event.ToJsonString();
        var stopping = _stopping.Token;
        var delivery = Task.Run(async () =>
        {
            for (var attempt = 1; attempt <= Backoff.Length && !stopping.IsCancellationRequested; attempt++)
            {
                try
                {
                    await Task.Delay(Backoff[attempt - 1], stopping); // real time, as latency: a fake clock would never send
                }
                catch (OperationCanceledException)
                {
                    return; // the stand-in is stopping: deliveries still waiting are dropped, as on a restart
                }

                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.TryAddWithoutValidation("Stripe-Signature", Signature(secret, body, options.Time.GetUtcNow()));
                request.Headers.UserAgent.ParseAdd("Stripe/1.0 (+https://stripe.com/docs/webhooks)");
                var status = 0;
                try
                {
                    using var response = await _http.SendAsync(request, stopping);
                    status = (int)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or ObjectDisposedException)
                {
                    // No answer: tried again after the next back-off, unless stopping.
                }

                _deliveries.Enqueue(new WebhookDelivery(id, type, attempt, status));
                if (status is >= 200 and < 300)
                {
                    return;
                }
            }
        });
        _pending[delivery] = 0;
        delivery.ContinueWith(t => _pending.TryRemove(t, out _), TaskScheduler.Default);
    }

    internal static string NewId(string prefix) =>
        prefix + RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 24);

    public void Dispose()
    {
        _stopping.Cancel();
        _http.Dispose();
        _stopping.Dispose();
    }
}
