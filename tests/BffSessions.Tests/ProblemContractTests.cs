using System.Net;
using System.Text;
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
        Assert.Equal(ProblemTypes.NotFound, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_wrong_method_is_a_method_not_allowed_problem()
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var response = await client.DeleteAsync("/api/customer-sessions");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Equal(ProblemTypes.MethodNotAllowed, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }
}

/// <summary>On the real server: a body sent without a length (chunked) is cut at the cap while it is read.</summary>
public sealed class ChunkedBodyTests : StandInTest
{
    [Fact]
    public async Task A_chunked_body_over_the_cap_is_a_body_too_large_problem()
    {
        await using var api = new ApiFactory(Stripe, Logs);
        var port = FreePort();
        api.UseKestrel(port);
        api.StartServer();
        using var client = new HttpClient { BaseAddress = new Uri($"http://localhost:{port}") };
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("chunked-user"));
        var body = "{\"components\":{\"pricingTable\":{\"enabled\":true}}" + new string(' ', 20 * 1024) + "}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        Assert.Null(request.Content.Headers.ContentLength);
        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(ProblemTypes.BodyTooLarge, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }
}
