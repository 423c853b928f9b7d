using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Stripe;
using Stripe.Events;

namespace BffSessions.Api.Payments;

/// <summary>What a delivery to <c>/stripe/webhook</c> turned out to be.</summary>
public abstract record StripeDelivery
{
    /// <summary>
    /// Not signed by any of our event destinations within Stripe's tolerance: nothing in it is believed, but the id it
    /// claims (<paramref name="ClaimedId"/>, if any) goes into the log line of the refusal.
    /// </summary>
    public sealed record NotSigned(string? ClaimedId) : StripeDelivery;

    /// <summary>Signed, but not an event this service can read (<paramref name="Why"/>; the id it claims, if any): acknowledged and ignored.</summary>
    public sealed record Unreadable(string Why, string? ClaimedId = null) : StripeDelivery;

    /// <summary>
    /// A verified event: its id and type, and the customer it says is gone (<c>customer.deleted</c>, or
    /// <c>v2.core.account.closed</c> for an Account v2), if it says one is.
    /// </summary>
    public sealed record Verified(string Id, string Type, CustomerRef? Gone) : StripeDelivery;

    /// <summary>Stripe's default tolerance for a signature's age, against replays of an old delivery.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);
}

/// <summary>
/// What the webhook endpoint needs of Stripe: whether a delivery is signed by one of our event destinations
/// (Stripe:WebhookSecrets), and what it says, as facts in the service's own terms. Stripe.net does the checking and
/// the parsing; nothing of its types leaves Payments.
/// </summary>
public interface IStripeEventReader
{
    /// <summary>Whether a delivery with this Stripe-Signature header could pass the check now: asked before its body is read.</summary>
    bool IsWorthReading(string? header);

    /// <summary>The delivery of <paramref name="body"/> (the bytes as received) under <paramref name="header"/>.</summary>
    StripeDelivery Read(ReadOnlySpan<byte> body, string header);
}

/// <summary>Reads deliveries with Stripe.net, against the configured signing secrets, on the service's clock.</summary>
public sealed class StripeEventReader(StripeClient stripe, IOptions<StripeOptions> options, TimeProvider time) : IStripeEventReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public bool IsWorthReading(string? header) => IsWorthReading(header, time.GetUtcNow());

    public StripeDelivery Read(ReadOnlySpan<byte> body, string header) => Read(body, header, options.Value.WebhookSecrets, stripe, time.GetUtcNow());

    /// <summary>
    /// Whether <paramref name="header"/> could pass Stripe.net's check at <paramref name="now"/>, judged before the body
    /// is read, so that a delivery that cannot costs nothing: a header Stripe.net would find malformed (an item without
    /// "=", no v1 signature), or whose first timestamp is not whole seconds within <see cref="StripeDelivery.Tolerance"/> of now (a
    /// replay, the "t=1" of a forgery), fails here. It reads the header exactly as Stripe.net's ValidateSignature does and
    /// refuses only what that would refuse; the signature itself is left to Stripe.net, over the body.
    /// </summary>
    public static bool IsWorthReading(string? header, DateTimeOffset now)
    {
        if (header is not { Length: > 0 and <= 8192 })
        {
            return false;
        }

        string? timestamp = null;
        var signed = false;
        foreach (var item in header.Trim().Split(','))
        {
            var parts = item.Trim().Split('=', 2);
            if (parts.Length != 2)
            {
                return false;
            }

            if (parts[0] == "t")
            {
                timestamp ??= parts[1];
            }
            else if (parts[0] == "v1")
            {
                signed = true;
            }
        }

        // Stripe.net reads the first t with Convert.ToInt32, in the current culture, and allows Tolerance either way.
        return signed
            && int.TryParse(timestamp, NumberStyles.Integer, CultureInfo.CurrentCulture, out var signedAt)
            && Math.Abs(now.ToUnixTimeSeconds() - signedAt) <= (long)StripeDelivery.Tolerance.TotalSeconds;
    }

    /// <summary>
    /// Verifies <paramref name="body"/>, the bytes as received, against each of <paramref name="secrets"/> with Stripe.net
    /// (the signature and its age, on the injected clock), then lets Stripe.net parse it: a snapshot event whatever its
    /// api_version (a destination may be pinned to another), or a thin event notification.
    /// </summary>
    private static StripeDelivery Read(ReadOnlySpan<byte> body, string header, IReadOnlyList<string> secrets, StripeClient stripe, DateTimeOffset now)
    {
        string json;
        try
        {
            // Exactly the bytes Stripe signed: no byte-order mark dropped, nothing invalid replaced.
            json = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return new StripeDelivery.NotSigned(IdClaimedIn(Encoding.UTF8.GetString(body)));
        }

        if (!secrets.Any(secret => IsSignedWith(json, header, secret, now)))
        {
            return new StripeDelivery.NotSigned(IdClaimedIn(json));
        }

        var delivery = Parse(json, stripe);
        return delivery is StripeDelivery.Unreadable unreadable ? unreadable with { ClaimedId = IdClaimedIn(json) } : delivery;
    }

    /// <summary>A verified body, as Stripe.net reads it.</summary>
    private static StripeDelivery Parse(string json, StripeClient stripe)
    {
        try
        {
            return TopLevelString(json, "object") switch
            {
                "event" => FromSnapshot(json),
                "v2.core.event" => stripe.ParseEventNotificationWithoutVerification(json) switch
                {
                    V2CoreAccountClosedEventNotification closed => Checked(closed.Id, closed.Type, closed.RelatedObject?.Id ?? "", CustomerKind.Account),
                    var other => Checked(other.Id, other.Type, null, CustomerKind.Account),
                },
                _ => new StripeDelivery.Unreadable("not an event object"),
            };
        }
        catch (Exception e) when (e is StripeException or JsonException or Newtonsoft.Json.JsonException or ArgumentException or FormatException
                                      or OverflowException or InvalidOperationException or InvalidCastException or KeyNotFoundException)
        {
            return new StripeDelivery.Unreadable($"Stripe.net could not parse it ({e.GetType().Name})");
        }
    }

    /// <summary>The id a body claims, for the log line of a refused delivery: never believed, never more than a short text.</summary>
    private static string? IdClaimedIn(string json)
    {
        try
        {
            return TopLevelString(json, "id");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// A snapshot event. Should a field of an older api_version not fit Stripe.net's types, the three fields needed
    /// are read from the JSON itself.
    /// </summary>
    private static StripeDelivery FromSnapshot(string json)
    {
        try
        {
            var snapshot = EventUtility.ParseEvent(json, throwOnApiVersionMismatch: false);
            return Checked(snapshot.Id, snapshot.Type,
                snapshot.Type == EventTypes.CustomerDeleted ? (snapshot.Data?.Object as Customer)?.Id ?? "" : null, CustomerKind.Customer);
        }
        catch (Exception e) when (e is JsonException or Newtonsoft.Json.JsonException)
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var type = String(root, "type");
            var customer = type != EventTypes.CustomerDeleted ? null
                : root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && data.TryGetProperty("object", out var customerObject)
                    ? String(customerObject, "id") ?? ""
                    : "";
            return Checked(String(root, "id"), type, customer, CustomerKind.Customer);
        }
    }

    /// <summary>
    /// Ids and types as Stripe writes them; anything else is not a delivery this service can act on. An event that
    /// must name a customer and does not (<paramref name="goneCustomerId"/> empty) is not one either.
    /// </summary>
    private static StripeDelivery Checked(string? id, string? type, string? goneCustomerId, CustomerKind kind) =>
        !IsStripeId(id) ? new StripeDelivery.Unreadable("no usable event id")
        : type is not { Length: > 0 and <= 100 } || !type.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_')
            ? new StripeDelivery.Unreadable("no usable event type")
        : goneCustomerId is null ? new StripeDelivery.Verified(id, type, null)
        : !IsStripeId(goneCustomerId) ? new StripeDelivery.Unreadable("no usable customer id")
        : new StripeDelivery.Verified(id, type, new CustomerRef(goneCustomerId, kind));

    private static bool IsStripeId([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= 255 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static bool IsSignedWith(string json, string header, string secret, DateTimeOffset now)
    {
        try
        {
            EventUtility.ValidateSignature(json, header, secret, (long)StripeDelivery.Tolerance.TotalSeconds, now.ToUnixTimeSeconds());
            return true;
        }
        catch (Exception e) when (e is StripeException or FormatException or OverflowException or ArgumentException)
        {
            return false;
        }
    }

    private static string? TopLevelString(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object ? String(document.RootElement, name) : null;
    }

    /// <summary>A string member, or null; a lone surrogate (invalid UTF-16 escaped in JSON) throws InvalidOperationException.</summary>
    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
