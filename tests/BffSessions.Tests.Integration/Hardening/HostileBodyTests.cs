using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;
using CsCheck;

namespace BffSessions.Tests.Hardening;

/// <summary>
/// Hostile input, as data (hostile-bodies.jsonl, 460+ bodies) and generated at random (CsCheck): every answer is a
/// success or a 4xx problem, never a 5xx, and nothing malformed ever reaches Stripe.
/// </summary>
public sealed class HostileBodyTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private const string SessionsPath = "/v1/customer_sessions";

    [Fact]
    public async Task Every_hostile_body_in_the_corpus_gets_its_4xx_problem_and_nothing_reaches_Stripe()
    {
        var corpus = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Hardening", "hostile-bodies.jsonl"))
            .Where(line => line.Length > 0)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone())
            .ToList();
        // The security model (docs/security.md) states the corpus size; a body added or lost must show up there too.
        Assert.Equal(463, corpus.Count);
        using var client = Api.CreateClientFor(NewUserId());
        var mismatches = new List<string>();

        foreach (var entry in corpus)
        {
            var name = entry.GetProperty("name").GetString()!;
            var expected = entry.GetProperty("expect").GetInt32();
            var body = entry.TryGetProperty("body", out var raw) ? raw.GetString()! : Generate(entry.GetProperty("generate").GetString()!);
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(entry.TryGetProperty("contentType", out var type) ? type.GetString()! : "application/json");

            using var response = await client.PostAsync("/api/customer-sessions", content);

            var mediaType = response.Content.Headers.ContentType?.MediaType;
            var problemType = mediaType == "application/problem+json" ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("type").GetString() : null;
            if ((int)response.StatusCode != expected || problemType?.StartsWith(BffSessions.Hosting.ProblemKind.Prefix, StringComparison.Ordinal) != true)
            {
                mismatches.Add($"{name}: {(int)response.StatusCode} {mediaType} {problemType} (expected a {expected} problem with a urn:bffsessions:problem type)");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
        Assert.Empty(Stripe.Requests);
    }

    [Fact]
    public async Task Random_bodies_get_a_session_or_a_4xx_problem_and_only_well_formed_requests_reach_Stripe()
    {
        using var client = Api.CreateClientFor(NewUserId());
        int sessions = 0, refusals = 0;

        await Gen.Int[0, 1000].Array[1, 40].SampleAsync(async choices =>
        {
            var body = RandomBody.Build(choices);
            var sessionsBefore = Stripe.RequestsTo(SessionsPath).Count;

            using var response = await client.PostAsync("/api/customer-sessions", new StringContent(body, Encoding.UTF8, "application/json"));

            var status = (int)response.StatusCode;
            var sessionsSeen = Stripe.RequestsTo(SessionsPath);
            if (status == 200)
            {
                sessions++;
                var sent = Assert.Single(sessionsSeen.Skip(sessionsBefore));
                Assert.True(StripeForm.Problems(sent.Form).Count == 0, $"{body} reached Stripe as: {string.Join(", ", StripeForm.Problems(sent.Form))}");
            }
            else
            {
                Assert.True(status is >= 400 and < 500, $"{body} got {status}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(sessionsBefore, sessionsSeen.Count);
                refusals++;
            }
        }, iter: 400, threads: 1, print: choices => RandomBody.Build(choices));

        // The generator must reach both sides of the validator, or the property says little.
        Assert.True(sessions > 20 && refusals > 20, $"{sessions} sessions, {refusals} refusals");
    }

    private static string Generate(string spec)
    {
        var (kind, size) = (spec[..spec.IndexOf(':', StringComparison.Ordinal)], int.Parse(spec[(spec.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return kind switch
        {
            "nest" => "{\"components\":" + string.Concat(Enumerable.Repeat("{\"a\":", size)) + "1" + new string('}', size) + "}",
            "bigarray" => "{\"components\":{\"paymentElement\":{\"enabled\":true,\"features\":{\"paymentMethodAllowRedisplayFilters\":["
                + string.Join(',', Enumerable.Repeat("\"always\"", size)) + "]}}}}",
            "padding" => "{\"components\":{\"pricingTable\":{\"enabled\":true}}" + new string(' ', size) + "}",
            "longstring" => "{\"components\":{\"paymentElement\":{\"enabled\":true,\"features\":{\"paymentMethodRedisplay\":\"" + new string('x', size) + "\"}}}}",
            _ => throw new InvalidOperationException($"unknown generator {spec}"),
        };
    }
}

/// <summary>
/// Turns a list of choices (which CsCheck generates and shrinks) into a request body: mostly request-shaped JSON
/// with valid and invalid names and values mixed, sometimes random JSON, sometimes cut short or corrupted.
/// </summary>
public static class RandomBody
{
    private static readonly string[] Components = ["paymentElement", "pricingTable", "buyButton", "mobilePaymentElement", "customerSheet"];
    private static readonly string[] Misnamed = ["PaymentElement", "payment_element", "pricingtable", "customer"];

    private static readonly Dictionary<string, string[]> FeaturesOf = new(StringComparer.Ordinal)
    {
        ["paymentElement"] = ["paymentMethodRedisplay", "paymentMethodRedisplayLimit", "paymentMethodAllowRedisplayFilters", "paymentMethodSave", "paymentMethodSaveUsage", "paymentMethodRemove"],
        ["mobilePaymentElement"] = ["paymentMethodRedisplay", "paymentMethodAllowRedisplayFilters", "paymentMethodSave", "paymentMethodSaveAllowRedisplayOverride", "paymentMethodRemove"],
        ["customerSheet"] = ["paymentMethodAllowRedisplayFilters", "paymentMethodRemove"],
        ["pricingTable"] = [],
        ["buyButton"] = [],
    };

    private static readonly string[] AnyFeature = [.. FeaturesOf.Values.SelectMany(f => f).Distinct(), "unknownFeature"];

    private static readonly Dictionary<string, string[]> ValidValues = new(StringComparer.Ordinal)
    {
        ["paymentMethodRedisplayLimit"] = ["1", "3", "10"],
        ["paymentMethodAllowRedisplayFilters"] = ["[\"always\"]", "[\"limited\",\"always\"]", "[\"unspecified\",\"limited\",\"always\"]"],
        ["paymentMethodSaveUsage"] = ["\"off_session\"", "\"on_session\""],
        ["paymentMethodSaveAllowRedisplayOverride"] = ["\"always\"", "\"limited\"", "\"unspecified\""],
    };

    private static readonly string[] EnabledDisabled = ["\"enabled\"", "\"disabled\""];

    private static readonly string[] Values =
    [
        "\"enabled\"", "\"always\"", "\"off_session\"", "\"Enabled\"", "\"\"", "null", "true", "0", "11", "-1", "3.5", "\"3\"", "1e309",
        "[]", "[\"always\",\"always\"]", "[null]", "{}", "\"\\u0000\"", "\"еnabled\"", "\"\\ud800\"",
    ];

    private static readonly string[] Enabled = ["true", "true", "true", "false", "null", "\"true\"", "1"];

    public static string Build(int[] choices)
    {
        var next = 0;
        int Pick(int count) => choices[next++ % choices.Length] % count;
        T OneOf<T>(T[] items) => items[Pick(items.Length)];

        var body = new System.Text.StringBuilder("{\"components\":{");
        var components = Components.Where(_ => Pick(3) == 0).ToList();
        if (components.Count == 0 || Pick(10) == 0)
        {
            components.Add(Pick(4) == 0 ? OneOf(Misnamed) : OneOf(Components));
        }

        for (var c = 0; c < components.Count; c++)
        {
            var name = components[c];
            body.Append(c > 0 ? "," : "").Append('"').Append(name).Append("\":{");
            var parts = new List<string>();
            if (Pick(10) != 0)
            {
                parts.Add("\"enabled\":" + OneOf(Enabled));
            }

            if (Pick(2) == 0)
            {
                var own = FeaturesOf.GetValueOrDefault(name) ?? [];
                var features = Enumerable.Range(0, Pick(4))
                    .Select(_ => own.Length > 0 && Pick(6) != 0 ? OneOf(own) : OneOf(AnyFeature))
                    .Distinct(StringComparer.Ordinal)
                    .Select(f => $"\"{f}\":{(Pick(5) != 0 ? OneOf(ValidValues.GetValueOrDefault(f) ?? EnabledDisabled) : OneOf(Values))}");
                parts.Add("\"features\":{" + string.Join(',', features) + "}");
            }

            body.Append(string.Join(',', parts)).Append('}');
        }

        body.Append('}');
        if (Pick(15) == 0)
        {
            body.Append(",\"customer\":\"cus_someone_else\"");
        }

        body.Append('}');
        var text = body.ToString();
        return Pick(15) switch
        {
            0 => text[..Pick(text.Length)],                                       // cut short
            1 => text.Insert(Pick(text.Length), "\"{[,:}]"[Pick(7)].ToString()),  // a stray character
            2 => OneOf(Values),                                                    // not an object at all
            _ => text,
        };
    }
}
