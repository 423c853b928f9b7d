using System.Diagnostics;
using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

/// <summary>
/// One request as Stripe received it: v1 form fields (or a GET's query) decoded into their bracket names
/// (<c>metadata[user_id]</c>), headers kept, a v2 JSON body parsed; and, once answered, the status it got.
/// </summary>
public sealed record StripeRequest(
    string Method, string Path, IReadOnlyDictionary<string, string> Form, IReadOnlyDictionary<string, string> Headers, JsonObject? Json = null)
{
    /// <summary>When it arrived (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long ArrivedAt { get; init; } = Stopwatch.GetTimestamp();

    /// <summary>The status it was answered with (0 until answered, or when the connection was dropped).</summary>
    public int Status { get; internal set; }

    /// <summary>The <c>Idempotency-Key</c> it carried.</summary>
    public string? IdempotencyKey => Headers.GetValueOrDefault("Idempotency-Key");

    /// <summary>Whether the answer was a replay of one Stripe had stored for its idempotency key.</summary>
    public bool Replayed { get; internal set; }
}
