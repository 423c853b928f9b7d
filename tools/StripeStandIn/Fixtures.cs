using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

/// <summary>Stripe's own example objects (stripe/openapi fixtures3.json): every customer and session starts as a copy.</summary>
internal static class Fixtures
{
    private static readonly JsonObject All = Load();

    public static JsonObject Customer() => All["customer"]!.DeepClone().AsObject();

    public static JsonObject CustomerSession() => All["customer_session"]!.DeepClone().AsObject();

    private static JsonObject Load()
    {
        using var stream = typeof(Fixtures).Assembly.GetManifestResourceStream("BffSessions.StandIn.fixtures.json")
            ?? throw new InvalidOperationException("Stripe's fixtures are not embedded in the stand-in's assembly.");
        return JsonNode.Parse(stream)!.AsObject();
    }
}
