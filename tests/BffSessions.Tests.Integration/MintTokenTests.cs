using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// The README's one line for a compose bearer token, <c>dotnet run tools/mint-token.cs -- ada</c>, run as written:
/// its token gets a client secret from an instance with docker-compose.yml's own bearer settings, in Production.
/// </summary>
[Collection(RunsAlone.Name)] // `dotnet run` compiles the tool: seconds of CPU that the timing tests must not share
public sealed class MintTokenTests : StandInTest
{
    [Fact]
    public async Task The_compose_token_tool_mints_a_token_that_the_compose_settings_accept()
    {
        var (exitCode, token, errors) = await MintAsync("ada", "--email", "ada@example.com");
        Assert.True(exitCode == 0, errors);
        await using var api = new ApiFactory(Stripe, Logs, "Production", ComposeBearerSettings());
        using var client = api.CreateApiClient();

        using var accepted = await PostAsync(client, token);
        using var tampered = await PostAsync(client, token[..^2] + (token[^2] == 'A' ? "BA" : "AA"));

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.StartsWith("cuss_", (await accepted.Content.ReadFromJsonAsync<Dictionary<string, object>>())!["clientSecret"].ToString(), StringComparison.Ordinal);
        Assert.Contains(Stripe.Requests, r => r.Path == "/v1/customers" && r.Form.GetValueOrDefault("email") == "ada@example.com");
        await HttpAssert.ProblemAsync(tampered, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Without_a_user_id_the_tool_says_how_to_use_it_and_prints_no_token()
    {
        var (exitCode, token, errors) = await MintAsync();

        Assert.Equal(2, exitCode);
        Assert.Equal("", token);
        Assert.Contains("usage: dotnet run tools/mint-token.cs -- <user id>", errors, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions")
        {
            Content = JsonContent.Create(new { components = new { pricingTable = new { enabled = true } } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private static async Task<(int ExitCode, string Token, string Errors)> MintAsync(params string[] arguments)
    {
        var (exitCode, output, errors) = await DotnetCommand.RunAsync(["run", Repository.PathOf("tools", "mint-token.cs"), "--", .. arguments],
            new Dictionary<string, string?> { ["BFF_SIGNING_KEY"] = null });
        return (exitCode, output.Trim(), errors);
    }

    /// <summary>The api service's Authentication__Schemes__Bearer__* variables, as settings.</summary>
    private static Dictionary<string, string?> ComposeBearerSettings() => ComposeFile.AsSettings(ComposeFile.Environment("api")
        .Where(e => e.Key.StartsWith("Authentication__Schemes__Bearer__", StringComparison.Ordinal)));
}
