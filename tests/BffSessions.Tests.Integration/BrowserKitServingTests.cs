using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BffSessions.Api.CustomerSessions;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// GET /bff/customer-sessions.js serves clients/web/customer-sessions.js byte for byte, as a module script a browser will
/// run, revalidated on every import. (The kit itself is tested by npm test in clients/web; a real browser imports it in
/// Browser/BrowserKitTests.cs.)
/// </summary>
public sealed class BrowserKitServingTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private static readonly byte[] KitInTheRepository = File.ReadAllBytes(Repository.PathOf("clients", "web", "customer-sessions.js"));

    [Fact]
    public async Task The_module_is_the_repository_s_file_served_as_JavaScript_to_anyone_and_never_from_a_stale_cache()
    {
        using var client = Api.CreateApiClient(); // no token, no cookie: the script is public

        using var response = await client.GetAsync(BrowserKit.Path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.Equal(KitInTheRepository, await response.Content.ReadAsByteArrayAsync());
        Assert.True(response.Headers.CacheControl?.NoCache, $"Cache-Control: {response.Headers.CacheControl}");
        Assert.Null(response.Headers.CacheControl?.MaxAge);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.False(response.Headers.ETag?.IsWeak ?? true, "a strong ETag");
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task A_browser_holding_the_current_copy_gets_a_304_and_one_holding_another_gets_the_file()
    {
        using var client = Api.CreateApiClient();
        using var first = await client.GetAsync(BrowserKit.Path);
        var tag = first.Headers.ETag!;

        using var current = new HttpRequestMessage(HttpMethod.Get, BrowserKit.Path);
        current.Headers.IfNoneMatch.Add(tag);
        using var unchanged = await client.SendAsync(current);
        using var stale = new HttpRequestMessage(HttpMethod.Get, BrowserKit.Path);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"last-deployment\""));
        using var changed = await client.SendAsync(stale);

        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Empty(await unchanged.Content.ReadAsByteArrayAsync());
        Assert.Equal(tag, unchanged.Headers.ETag);
        Assert.True(unchanged.Headers.CacheControl?.NoCache);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(KitInTheRepository, await changed.Content.ReadAsByteArrayAsync());
    }

    /// <summary>A HEAD (a link checker, a CDN's health probe, a preload check) gets the GET's headers without the body.</summary>
    [Fact]
    public async Task HEAD_answers_with_the_GET_s_headers_and_no_body()
    {
        using var client = Api.CreateApiClient();
        using var get = await client.GetAsync(BrowserKit.Path);

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, BrowserKit.Path));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("text/javascript", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(KitInTheRepository.Length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.True(head.Headers.CacheControl?.NoCache);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Swagger_lists_the_module_as_a_JavaScript_answer_not_as_an_API()
    {
        using var client = Api.CreateApiClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));

        var get = document.RootElement.GetProperty("paths").GetProperty(BrowserKit.Path).GetProperty("get");
        Assert.Equal("GetBrowserKit", get.GetProperty("operationId").GetString());
        var responses = get.GetProperty("responses");
        Assert.Equal(["200", "304"], responses.EnumerateObject().Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["text/javascript"], responses.GetProperty("200").GetProperty("content").EnumerateObject().Select(c => c.Name));
        Assert.False(get.TryGetProperty("requestBody", out _));
    }
}

/// <summary>The kit outside Development, with the demo off, and for a page on another origin.</summary>
public sealed class BrowserKitOriginTests : StandInTest
{
    [Fact]
    public async Task The_module_is_served_without_the_demo_and_an_allowed_origin_may_import_it_in_CORS_mode()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Production", new Dictionary<string, string?>
        {
            ["Cors:AllowedOrigins:0"] = "https://shop.example",
        });
        using var client = api.CreateApiClient();

        using var demo = await client.GetAsync("/");
        using var allowed = await ImportFromAsync(client, "https://shop.example");
        using var other = await ImportFromAsync(client, "https://evil.example");

        Assert.Equal(HttpStatusCode.NotFound, demo.StatusCode);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("https://shop.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        // Another site still gets the bytes (the file is public), but without the header its browser will not run them.
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    /// <summary>
    /// The answer's CORS headers depend on Origin, and the file may be cached: every answer says Vary: Origin, once, so a
    /// browser or a proxy does not hand the same-origin copy (no Access-Control-Allow-Origin) to the allowed page's import.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Every_answer_says_it_varies_by_Origin(int allowedOrigins)
    {
        // With one origin UseCors writes no Vary; with two it writes one, for an allowed origin only.
        var settings = new Dictionary<string, string?> { ["Cors:AllowedOrigins:0"] = "https://shop.example" };
        if (allowedOrigins > 1)
        {
            settings["Cors:AllowedOrigins:1"] = "https://other-shop.example";
        }

        await using var api = new ApiFactory(Stripe, Logs, "Production", settings);
        using var client = api.CreateApiClient();

        using var sameOrigin = await client.GetAsync(BrowserKit.Path);
        using var allowed = await ImportFromAsync(client, "https://shop.example");
        using var other = await ImportFromAsync(client, "https://evil.example");

        Assert.All([sameOrigin, allowed, other], response =>
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(["Origin"], response.Headers.Vary);
        });
    }

    /// <summary>What Chromium sends for <c>import … from 'https://service/bff/customer-sessions.js'</c> on another origin.</summary>
    private static async Task<HttpResponseMessage> ImportFromAsync(HttpClient client, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BrowserKit.Path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Sec-Fetch-Mode", "cors");
        request.Headers.Add("Sec-Fetch-Dest", "script");
        return await client.SendAsync(request);
    }
}
