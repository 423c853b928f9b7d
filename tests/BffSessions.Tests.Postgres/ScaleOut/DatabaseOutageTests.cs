using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.ScaleOut;

/// <summary>The PostgreSQL server stops under a running instance, then comes back.</summary>
#pragma warning disable CA1001 // The server, stand-in and host are disposed in IAsyncLifetime.DisposeAsync.
public sealed class DatabaseOutageTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };
    private readonly LogCapture _logs = new();
    private PostgresServer? _database;
    private StripeStandIn? _stripe;
    private ApiFactory? _api;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_stripe is not null)
        {
            await _stripe.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Assert.Empty(Secrets.FoundIn(_logs.Lines));
    }

    [SkippableFact]
    public async Task Without_the_database_ready_fails_known_users_are_served_new_users_get_503_and_all_recovers_without_restart()
    {
        PostgresServer.Require();
        _database = await PostgresServer.StartAsync();
        _stripe = await TestStripe.StartAsync();
        _api = new ApiFactory(_stripe, _logs, settings: new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:Customers"] = _database.ConnectionString("bffsessions"),
        });
        using var known = _api.CreateClientFor("known-user");
        using var newcomer = _api.CreateClientFor("new-user");
        using var probe = _api.CreateApiClient();
        Assert.Equal(HttpStatusCode.OK, (await known.PostAsJsonAsync("/api/customer-sessions", Request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/ready")).StatusCode);

        await _database.StopServerAsync();

        using var ready = await probe.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var report = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Unhealthy", report.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.DoesNotContain("Host=", report.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/live")).StatusCode);
        using var cached = await known.PostAsJsonAsync("/api/customer-sessions", Request);
        Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        using var refused = await newcomer.PostAsJsonAsync("/api/customer-sessions", Request);
        var problem = await HttpAssert.ProblemAsync(refused, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(BffSessions.Api.Data.DataProblems.DatabaseUnavailable.Type, problem.GetProperty("type").GetString());
        Assert.Equal("Database unavailable", problem.GetProperty("title").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.DoesNotContain(_stripe.RequestsTo("/v1/customers"), c => c.Form["metadata[user_id]"] == "new-user");

        await _database.StartServerAsync();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode readyAgain;
        while ((readyAgain = (await probe.GetAsync("/health/ready")).StatusCode) != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.True(readyAgain == HttpStatusCode.OK, "not ready again:\n" + string.Join('\n', _logs.Lines.TakeLast(15)));
        using var served = await newcomer.PostAsJsonAsync("/api/customer-sessions", Request);
        Assert.True(served.StatusCode == HttpStatusCode.OK,
            $"after recovery: {served.StatusCode}\n" + string.Join('\n', _logs.Lines.Where(l => l.StartsWith("[Error]", StringComparison.Ordinal) || l.StartsWith("[Warning]", StringComparison.Ordinal)).TakeLast(6)) + "\nserver log:\n" + _database.Log);
    }
}
