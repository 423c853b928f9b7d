using System.Globalization;
using System.Security.Cryptography;
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

    /// <summary>How much of a refused body is read for the id it claims: Stripe writes the id first.</summary>
    private const int ClaimedIdWindow = 4096;

    public bool IsWorthReading(string? header) => IsWorthReading(header, time.GetUtcNow());

    public StripeDelivery Read(ReadOnlySpan<byte> body, string header) => Read(body, header, options.Value.WebhookSecrets, stripe, time.GetUtcNow());

    /// <summary>
    /// Whether <paramref name="header"/> could pass Stripe.net's check at <paramref name="now"/>, judged before the body
    /// is read, so that a delivery that cannot costs nothing: a header Stripe.net would find malformed (an item without
    /// "=", no v1 signature), or whose first timestamp is not whole seconds within <see cref="StripeDelivery.Tolerance"/> of now (a
    /// replay, the "t=1" of a forgery), fails here. It reads the header exactly as Stripe.net's ValidateSignature does and
    /// refuses only what that would refuse; the signature itself is left to Stripe.net, over the body.
    /// </summary>
    public static bool IsWorthReading(string? header, DateTimeOffset now) =>
        header is { Length: > 0 and <= 8192 }
        && SignatureHeader.Parse(header) is { } parsed
        // Stripe.net reads the first t with Convert.ToInt32, in the current culture, and allows Tolerance either way.
        && int.TryParse(parsed.Timestamp, NumberStyles.Integer, CultureInfo.CurrentCulture, out var signedAt)
        && Math.Abs(now.ToUnixTimeSeconds() - signedAt) <= (long)StripeDelivery.Tolerance.TotalSeconds;

    /// <summary>
    /// Verifies <paramref name="body"/>, the bytes as received, against each of <paramref name="secrets"/> with Stripe.net
    /// (the signature and its age, on the injected clock), then lets Stripe.net parse it: a snapshot event whatever its
    /// api_version (a destination may be pinned to another), or a thin event notification.
    /// </summary>
    /// <remarks>
    /// Stripe.net takes the body as a string, a UTF-16 copy twice its size, and copies it again to sign it. A body no
    /// secret signed gets none of that: the same HMAC is first taken over the bytes as received, and only a body it
    /// matches becomes text for Stripe.net, which has the last word (the signature again, and its age). A forged body of
    /// 1 MiB costs its pooled buffer and a hash, not megabytes of copies and a parse.
    /// </remarks>
    private static StripeDelivery Read(ReadOnlySpan<byte> body, string header, IReadOnlyList<string> secrets, StripeClient stripe, DateTimeOffset now)
    {
        if (!IsSignedByAny(body, header, secrets))
        {
            return new StripeDelivery.NotSigned(IdClaimedIn(body));
        }

        string json;
        try
        {
            // Exactly the bytes Stripe signed: no byte-order mark dropped, nothing invalid replaced.
            json = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return new StripeDelivery.NotSigned(IdClaimedIn(body));
        }

        if (!secrets.Any(secret => IsSignedWith(json, header, secret, now)))
        {
            return new StripeDelivery.NotSigned(IdClaimedIn(body));
        }

        var delivery = Parse(json, stripe);
        return delivery is StripeDelivery.Unreadable unreadable ? unreadable with { ClaimedId = IdClaimedIn(body) } : delivery;
    }

    /// <summary>
    /// Whether one of the header's v1 signatures is Stripe's over these bytes with one of <paramref name="secrets"/>:
    /// the HMAC-SHA256 of "{t}.{body}" as Stripe.net's ComputeSignature takes it (the first t as written, UTF-8,
    /// lower-case hex), over the bytes as received instead of a string made of them. For a body of valid UTF-8 the two
    /// agree byte for byte; for any other, Stripe.net is never asked. The age is left to
    /// <see cref="IsWorthReading(string?, DateTimeOffset)"/> and Stripe.net.
    /// </summary>
    private static bool IsSignedByAny(ReadOnlySpan<byte> body, string header, IReadOnlyList<string> secrets)
    {
        if (SignatureHeader.Parse(header) is not { } parsed)
        {
            return false;
        }

        var signedPrefix = Encoding.UTF8.GetBytes(parsed.Timestamp + ".");
        Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
        foreach (var secret in secrets)
        {
            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
            hmac.AppendData(signedPrefix);
            hmac.AppendData(body);
            hmac.GetHashAndReset(hash);
            var expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash));
            foreach (var signature in parsed.Signatures)
            {
                if (CryptographicOperations.FixedTimeEquals(expected, Encoding.UTF8.GetBytes(signature)))
                {
                    return true;
                }
            }
        }

        return false;
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

    /// <summary>
    /// The id a body claims, for the log line of a refused delivery: never believed, never more than a short text. Read
    /// from the body's first <see cref="ClaimedIdWindow"/> bytes as they are, with nothing copied or parsed beyond: a
    /// forged body may be 1 MiB.
    /// </summary>
    private static string? IdClaimedIn(ReadOnlySpan<byte> body)
    {
        var window = body.Length <= ClaimedIdWindow ? body : body[..ClaimedIdWindow];
        var reader = new Utf8JsonReader(window, isFinalBlock: window.Length == body.Length, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            // Member by member at the top level; a value that runs past the window ends the search.
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("id"u8);
                if (!reader.Read())
                {
                    return null;
                }

                if (isId)
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                if (!reader.TrySkip())
                {
                    return null;
                }
            }

            return null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
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

    /// <summary>
    /// The first t and every v1 of a Stripe-Signature header, read exactly as Stripe.net's ValidateSignature reads them
    /// (items split on ",", trimmed, each split at its first "="); null where that would find no signature to check: an
    /// item without "=", no t, no v1.
    /// </summary>
    private sealed record SignatureHeader(string Timestamp, IReadOnlyList<string> Signatures)
    {
        public static SignatureHeader? Parse(string header)
        {
            string? timestamp = null;
            var signatures = new List<string>(1);
            foreach (var item in header.Trim().Split(','))
            {
                var parts = item.Trim().Split('=', 2);
                if (parts.Length != 2)
                {
                    return null;
                }

                if (parts[0] == "t")
                {
                    timestamp ??= parts[1];
                }
                else if (parts[0] == "v1")
                {
                    signatures.Add(parts[1]);
                }
            }

            return timestamp is null || signatures.Count == 0 ? null : new SignatureHeader(timestamp, signatures);
        }
    }
}
