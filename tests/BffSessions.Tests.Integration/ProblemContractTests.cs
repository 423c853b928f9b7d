using System.Net;
using System.Reflection;
using System.Text;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// Errors the framework answers before any endpoint of ours runs still follow the contract: a problem with a
/// urn:bffsessions:problem type and a trace id (HttpAssert checks both on every problem in the suite).
/// </summary>
public sealed class ProblemContractTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    [Fact]
    public async Task An_unknown_path_is_a_not_found_problem()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.GetAsync("/no-such-page");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal(CommonProblems.NotFound.Type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_body_without_a_content_type_is_an_unsupported_media_type_problem()
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var response = await client.PostAsync("/api/customer-sessions", new ByteArrayContent(Encoding.UTF8.GetBytes(PricingTable)));

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(CommonProblems.UnsupportedMediaType.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=\"utf-9\"")]
    [InlineData("application/json; charset=utf-7")] // decodable, and a way around filters that read the bytes as UTF-8
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset= ")]
    [InlineData("application/json; charset=utf8")] // what the JSON reader cannot name, it cannot read: a 415, not its 500
    [InlineData("application/json; charset=\"utf-8\"")]
    public async Task A_charset_that_cannot_be_decoded_is_an_unsupported_media_type_problem(string contentType)
    {
        using var response = await PostDeclaredAsAsync(contentType);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(CommonProblems.UnsupportedMediaType.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=UTF-8")]
    [InlineData("application/json; charset=us-ascii")]
    public async Task A_body_declared_as_UTF_8_or_ASCII_is_read(string contentType)
    {
        using var response = await PostDeclaredAsAsync(contentType);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>A strict client still learns which error it met: the problem is written whatever Accept says.</summary>
    [Theory]
    [InlineData("text/html")]
    [InlineData("application/xml")]
    public async Task A_client_that_accepts_no_JSON_still_gets_the_problem(string accept)
    {
        using var anonymous = Api.CreateApiClient();
        using var signedIn = Api.CreateClientFor(NewUserId());
        foreach (var client in new[] { anonymous, signedIn })
        {
            client.DefaultRequestHeaders.Accept.ParseAdd(accept);
        }

        using var notFound = await anonymous.GetAsync("/no-such-page");
        using var unauthorized = await anonymous.PostAsync("/api/customer-sessions", JsonBody(PricingTable));
        using var badJson = await signedIn.PostAsync("/api/customer-sessions", JsonBody("{"));
        using var invalid = await signedIn.PostAsync("/api/customer-sessions", JsonBody("{\"components\":{}}"));

        Assert.Equal(CommonProblems.NotFound.Type, (await HttpAssert.ProblemAsync(notFound, HttpStatusCode.NotFound)).GetProperty("type").GetString());
        Assert.Equal(CommonProblems.Unauthorized.Type, (await HttpAssert.ProblemAsync(unauthorized, HttpStatusCode.Unauthorized)).GetProperty("type").GetString());
        Assert.Equal(CommonProblems.InvalidBody.Type, (await HttpAssert.ProblemAsync(badJson, HttpStatusCode.BadRequest)).GetProperty("type").GetString());
        Assert.Equal(CommonProblems.InvalidRequest.Type, (await HttpAssert.ProblemAsync(invalid, HttpStatusCode.BadRequest)).GetProperty("type").GetString());
    }

    [Fact]
    public async Task No_problem_may_be_cached()
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var invalid = await client.PostAsync("/api/customer-sessions", JsonBody("{\"components\":{}}"));
        using var notFound = await client.GetAsync("/no-such-page");

        Assert.All([invalid, notFound], r => Assert.True(r.Headers.CacheControl?.NoStore, $"{r.RequestMessage!.RequestUri} may be cached"));
    }

    /// <summary>
    /// The error table (docs/api.md, once the README's) and the code name the same problem types: a type added in code
    /// without a row, or a row whose type no code writes, fails here.
    /// </summary>
    [Fact]
    public void The_README_lists_exactly_the_problem_types_the_code_defines()
    {
        var table = File.ReadLines(Repository.PathOf("docs", "api.md"))
            .SkipWhile(line => !line.StartsWith("| condition | status | `type`", StringComparison.Ordinal))
            .Skip(2)
            .TakeWhile(line => line.StartsWith('|'))
            .Select(line => line.Split('|')[3].Trim().Trim('`'))
            .Where(type => type.Length > 0)
            .Select(type => ProblemKind.Prefix + type)
            .ToHashSet(StringComparer.Ordinal);
        var defined = new[] { typeof(CommonProblems), typeof(PaymentProblems), typeof(IdentityProblems), typeof(DataProblems), typeof(BffSessions.Api.Webhooks.WebhookProblems) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Where(f => f.FieldType == typeof(ProblemKind))
            .Select(f => ((ProblemKind)f.GetValue(null)!).Type)
            .ToHashSet(StringComparer.Ordinal);

        Assert.Equal(defined.Order(StringComparer.Ordinal), table.Order(StringComparer.Ordinal));
    }

    private const string PricingTable = "{\"components\":{\"pricingTable\":{\"enabled\":true}}}";

    private static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_wrong_method_is_a_method_not_allowed_problem()
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var response = await client.DeleteAsync("/api/customer-sessions");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Equal(CommonProblems.MethodNotAllowed.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }

    /// <summary>
    /// A 4xx the catalogue has no kind for (here the file result's 412 for an If-Match that does not match) is a
    /// client-error with the status's own title, not an internal-error that would send the page to support.
    /// </summary>
    [Fact]
    public async Task A_client_error_the_catalogue_does_not_name_is_a_client_error_problem_with_its_own_title()
    {
        using var client = Api.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, BffSessions.Api.CustomerSessions.BrowserKit.Path);
        request.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"last-deployment\""));

        using var response = await client.SendAsync(request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Equal(CommonProblems.ClientError.Type, problem.GetProperty("type").GetString());
        Assert.Equal("Precondition Failed", problem.GetProperty("title").GetString());
    }

    /// <summary>The pricing-table request, its UTF-8 bytes declared with <paramref name="contentType"/> exactly as given.</summary>
    private async Task<HttpResponseMessage> PostDeclaredAsAsync(string contentType)
    {
        using var client = Api.CreateClientFor(NewUserId());
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(PricingTable));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return await client.PostAsync("/api/customer-sessions", content);
    }
}

/// <summary>On the real server: a body sent without a length (chunked) is cut at the cap while it is read.</summary>
public sealed class ChunkedBodyTests : StandInTest
{
    [Fact]
    public async Task A_chunked_body_over_the_cap_is_a_body_too_large_problem()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = new HttpClient { BaseAddress = api.StartKestrel() };
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("chunked-user"));
        var body = "{\"components\":{\"pricingTable\":{\"enabled\":true}}" + new string(' ', 20 * 1024) + "}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Null(request.Content.Headers.ContentLength);
        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(CommonProblems.BodyTooLarge.Type, problem.GetProperty("type").GetString());
        Assert.Equal("The request body is larger than this service accepts.", problem.GetProperty("detail").GetString());
        Assert.Empty(Stripe.Requests);
    }
}
