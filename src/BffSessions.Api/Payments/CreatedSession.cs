using System.Text.Json;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>What this service reads of Stripe's customer session: the client secret and when it expires (UTC).</summary>
public sealed record CreatedSession(string ClientSecret, DateTime ExpiresAt)
{
    /// <summary>Reads <c>client_secret</c> and <c>expires_at</c> (Unix seconds) from Stripe's JSON.</summary>
    /// <exception cref="StripeException">The answer is not a customer session: treated like any bad answer from Stripe.</exception>
    public static CreatedSession Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var secret = root.GetProperty("client_secret").GetString();
            var expiresAt = root.GetProperty("expires_at").GetInt64();
            if (!string.IsNullOrEmpty(secret))
            {
                return new CreatedSession(secret, DateTimeOffset.FromUnixTimeSeconds(expiresAt).UtcDateTime);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentOutOfRangeException)
        {
            throw new StripeException("Stripe answered with something that is not a customer session.", e);
        }

        throw new StripeException("Stripe answered with a customer session without a client secret.");
    }
}
