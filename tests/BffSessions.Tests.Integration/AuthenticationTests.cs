using System.Net;
using System.Net.Http.Json;
using System.Text;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests;

public sealed class AuthenticationTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    public static TheoryData<string, string> BadTokens => new()
    {
        { "expired", ApiFactory.Token("user-1", expires: DateTime.UtcNow.AddMinutes(-10)) },
        { "signed with another key", ApiFactory.Token("user-1", key: Encoding.UTF8.GetBytes("another-signing-key-0123456789-abcdefghij")) },
        { "from another issuer", ApiFactory.Token("user-1", issuer: "https://evil.example") },
        { "for another audience", ApiFactory.Token("user-1", audience: "https://other.example") },
        { "not a JWT", "not-a-token" },
    };

    [Fact]
    public async Task A_request_without_a_token_or_session_gets_a_401_problem_not_a_redirect()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(BffSessions.Hosting.CommonProblems.Unauthorized.Type, problem.GetProperty("type").GetString());
        Assert.Equal("Send a bearer token (this deployment has no browser sign-in).", problem.GetProperty("detail").GetString());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Null(response.Headers.Location);
        Assert.Empty(Stripe.Requests);
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_token_gets_a_401_problem_and_never_reaches_Stripe(string why, string token)
    {
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal(BffSessions.Hosting.CommonProblems.Unauthorized.Type, problem.GetProperty("type").GetString());
        var expected = why switch
        {
            "expired" => "The bearer token has expired.",
            "signed with another key" => "The bearer token is signed by a key this service does not know.",
            "from another issuer" => "The bearer token's issuer (iss) is not one this service trusts.",
            "for another audience" => "The bearer token's audience (aud) is not this service.",
            _ => "The bearer token is not valid.",
        };
        Assert.StartsWith(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(Stripe.Requests);
        // One line says why (event 2002), with no stack trace; the framework's own lines about it are below the
        // Warning floor that appsettings.json sets for Microsoft.AspNetCore.Authentication.
        var refused = Assert.Single(LogEvents, e => EventIdOf(e) == 2002);
        Assert.Null(refused.Exception);
        Assert.DoesNotContain(LogEvents, e => e.Level >= Serilog.Events.LogEventLevel.Warning);
        Assert.DoesNotContain(LogEvents, e => e.Exception is not null && !SourceOf(e).StartsWith("Microsoft.AspNetCore.Authentication", StringComparison.Ordinal));
    }

    private static int? EventIdOf(Serilog.Events.LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is Serilog.Events.StructureValue structure
            && structure.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is Serilog.Events.ScalarValue { Value: int value }
            ? value
            : null;

    private static string SourceOf(Serilog.Events.LogEvent e) =>
        e.Properties.TryGetValue("SourceContext", out var source) && source is Serilog.Events.ScalarValue { Value: string name } ? name : "";

    [Fact]
    public async Task A_valid_token_without_a_user_id_claim_is_forbidden()
    {
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token(userId: null, email: "nobody@example.com"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        Assert.Equal(BffSessions.Hosting.CommonProblems.Forbidden.Type, (await HttpAssert.ProblemAsync(response, HttpStatusCode.Forbidden)).GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
    }

    [Fact]
    public async Task Authentication_runs_before_the_body_is_read()
    {
        using var client = Api.CreateApiClient();

        using var response = await client.PostAsync("/api/customer-sessions", new StringContent("{not json", Encoding.UTF8, "application/json"));

        await HttpAssert.ProblemAsync(response, HttpStatusCode.Unauthorized);
    }
}

/// <summary>A signing key added to the settings (as `dotnet user-jwts create` adds one to the user secrets) counts at once.</summary>
public sealed class SigningKeyReloadTests : StandInTest
{
    [Fact]
    public async Task A_token_signed_with_a_key_added_while_running_is_accepted_without_a_restart()
    {
        var newKey = Encoding.UTF8.GetBytes("a-key-dotnet-user-jwts-just-wrote-0123456789");
        await using var api = new ApiFactory(Stripe, Logs);
        using var client = api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("new-key-user", key: newKey));

        using var before = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
        var configuration = (Microsoft.Extensions.Configuration.IConfigurationRoot)api.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>();
        // One key per issuer, as `dotnet user-jwts` keeps it: a first create (or a key reset) writes it anew.
        configuration["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = Convert.ToBase64String(newKey);
        configuration.Reload();
        using var after = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        var problem = await HttpAssert.ProblemAsync(before, HttpStatusCode.Unauthorized);
        Assert.StartsWith("The bearer token is signed by a key this service does not know.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
