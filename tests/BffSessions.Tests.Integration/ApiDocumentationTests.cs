using System.Text.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

public sealed class ApiDocumentationTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    [Fact]
    public async Task Swagger_documents_the_endpoint_its_bearer_scheme_example_and_every_status()
    {
        using var client = Api.CreateApiClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));

        var root = document.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var post = root.GetProperty("paths").GetProperty("/api/customer-sessions").GetProperty("post");
        var statuses = post.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToList();
        Assert.Equal(["200", "400", "401", "403", "413", "415", "429", "502", "503", "504"], statuses.Order(StringComparer.Ordinal));
        Assert.True(post.GetProperty("responses").GetProperty("502").GetProperty("content").TryGetProperty("application/problem+json", out _));
        var requestSchema = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;
        var example = root.GetProperty("components").GetProperty("schemas").GetProperty(requestSchema.Split('/').Last()).GetProperty("example");
        Assert.True(example.GetProperty("components").GetProperty("paymentElement").GetProperty("enabled").GetBoolean());
    }

    /// <summary>Each error status shows our problem types as examples, not ProblemDetails' made-up "string" and additionalProp1.</summary>
    [Fact]
    public async Task Swagger_shows_the_problem_types_each_error_status_answers_with()
    {
        using var client = Api.CreateApiClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));

        var responses = document.RootElement.GetProperty("paths").GetProperty("/api/customer-sessions").GetProperty("post").GetProperty("responses");
        string[] TypesOf(string status) => responses.GetProperty(status).GetProperty("content").GetProperty("application/problem+json")
            .GetProperty("examples").EnumerateObject().Select(e => e.Value.GetProperty("value").GetProperty("type").GetString()!).ToArray();
        Assert.Equal(["urn:bffsessions:problem:invalid-request", "urn:bffsessions:problem:invalid-body"], TypesOf("400"));
        Assert.Equal(["urn:bffsessions:problem:unauthorized", "urn:bffsessions:problem:csrf-header-missing"], TypesOf("401"));
        Assert.Equal(["urn:bffsessions:problem:stripe-error", "urn:bffsessions:problem:stripe-unreachable", "urn:bffsessions:problem:stripe-credentials-rejected"], TypesOf("502"));
        Assert.Equal(["urn:bffsessions:problem:stripe-busy", "urn:bffsessions:problem:stripe-busy", "urn:bffsessions:problem:stripe-rate-limited", "urn:bffsessions:problem:database-unavailable"], TypesOf("503"));
        foreach (var status in new[] { "403", "413", "415", "429", "504" })
        {
            Assert.StartsWith("urn:bffsessions:problem:", Assert.Single(TypesOf(status)), StringComparison.Ordinal);
        }
        Assert.DoesNotContain("additionalProp", responses.GetRawText(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The examples are what the service really answers: each problem below is provoked through the endpoint, and the
    /// example of the same type and title must have the same detail and errors.
    /// </summary>
    [Fact]
    public async Task Swagger_s_problem_examples_match_the_real_answers()
    {
        using var client = Api.CreateApiClient();
        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));
        var examples = document.RootElement.GetProperty("paths").GetProperty("/api/customer-sessions").GetProperty("post").GetProperty("responses")
            .EnumerateObject().Where(r => r.Value.TryGetProperty("content", out var c) && c.TryGetProperty("application/problem+json", out _))
            .SelectMany(r => r.Value.GetProperty("content").GetProperty("application/problem+json").GetProperty("examples").EnumerateObject())
            .Select(e => e.Value.GetProperty("value").Clone())
            .ToList();
        using var bearer = Api.CreateClientFor(NewUserId());
        Stripe.Override("/v1/customer_sessions", (_, _) => StripeStandIn.Error(400, "invalid_request_error", "parameter_unknown", "No such thing."));

        var answers = new List<HttpResponseMessage>
        {
            await bearer.PostAsync("/api/customer-sessions", Json("""{"components":{}}""")),
            await bearer.PostAsync("/api/customer-sessions", Json("""{"components":{"pricingTable":{"enabled":"true"}}}""")),
            await bearer.PostAsync("/api/customer-sessions", Json("{\"components\":{\"pricingTable\":{\"enabled\":true}},\"pad\":\"" + new string('x', 17_000) + "\"}")),
            await bearer.PostAsync("/api/customer-sessions", new StringContent("{}", System.Text.Encoding.UTF8, "text/plain")),
            await bearer.PostAsync("/api/customer-sessions", Json("""{"components":{"pricingTable":{"enabled":true}}}""")),
        };
        using var badToken = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = Json("""{"components":{"pricingTable":{"enabled":true}}}""") };
        badToken.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-token");
        answers.Add(await client.SendAsync(badToken));

        foreach (var answer in answers)
        {
            using var problem = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            var real = problem.RootElement;
            var type = real.GetProperty("type").GetString();
            var title = real.GetProperty("title").GetString();
            var example = examples.SingleOrDefault(e => e.GetProperty("type").GetString() == type && e.GetProperty("title").GetString() == title);
            Assert.True(example.ValueKind == JsonValueKind.Object, $"no example for {(int)answer.StatusCode} {type} \"{title}\"");
            Assert.Equal((int)answer.StatusCode, example.GetProperty("status").GetInt32());
            Assert.Equal(Text(real, "detail"), Text(example, "detail"));
            Assert.Equal(Text(real, "errors"), Text(example, "errors"));
            answer.Dispose();
        }
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static string? Text(JsonElement problem, string member) =>
        problem.TryGetProperty(member, out var value) ? System.Text.Json.Nodes.JsonNode.Parse(value.GetRawText())?.ToJsonString() : null;

    [Fact]
    public async Task Swagger_UI_is_served()
    {
        using var client = Api.CreateApiClient();

        var html = await client.GetStringAsync("/swagger/index.html");

        Assert.Contains("swagger-ui", html, StringComparison.Ordinal);
    }
}

/// <summary>Swagger is a map of the API: Development serves it, other environments only when Swagger:Enabled is true.</summary>
public sealed class ApiDocumentationSwitchTests : StandInTest
{
    [Theory]
    [InlineData("Production", null, false)]
    [InlineData("Production", "false", false)]
    [InlineData("Production", "true", true)]
    [InlineData("Development", null, true)]
    [InlineData("Development", "false", false)]
    public async Task Swagger_is_served_in_Development_and_elsewhere_only_when_enabled(string environment, string? enabled, bool served)
    {
        var settings = new Dictionary<string, string?>();
        if (enabled is not null)
        {
            settings["Swagger:Enabled"] = enabled;
        }

        await using var api = new ApiFactory(Stripe, Logs, environment, settings);
        // HSTS and the HTTPS redirect apply outside Development: ask over HTTPS, as a browser would.
        using var client = api.CreateApiClient();

        using var ui = await client.GetAsync("/swagger/index.html");
        using var document = await client.GetAsync("/swagger/v1/swagger.json");

        var expected = served ? System.Net.HttpStatusCode.OK : System.Net.HttpStatusCode.NotFound;
        Assert.Equal(expected, ui.StatusCode);
        Assert.Equal(expected, document.StatusCode);
    }
}
