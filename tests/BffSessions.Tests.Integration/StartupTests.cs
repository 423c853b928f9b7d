using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.CustomerSessions;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace BffSessions.Tests;

/// <summary>Hosts of their own: settings that stop start-up, the offline stand-in, an unreachable Stripe.</summary>
public sealed class StartupTests : StandInTest
{
    private static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    [Theory]
    [InlineData("pk_test_0123456789abcdef", "publishable key")]
    [InlineData("whsec_0123456789", "must start with sk_ or rk_")]
    [InlineData("0123456789", "must start with sk_ or rk_")]
    public async Task A_key_that_is_not_a_secret_key_stops_start_up_naming_the_setting(string key, string reason)
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:SecretKey"] = key });

        var error = Assert.Throws<OptionsValidationException>(() => api.Server);

        Assert.Contains("Stripe:SecretKey", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    public async Task Without_a_key_outside_Development_the_service_refuses_to_start(string environment)
    {
        await using var api = new ApiFactory(Stripe, Logs, environment, new Dictionary<string, string?> { ["Stripe:SecretKey"] = "" });

        var error = Assert.Throws<OptionsValidationException>(() => api.Server);

        Assert.Contains("Stripe:SecretKey is required outside Development", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_setting_that_was_renamed_stops_start_up_saying_where_it_went()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["RateLimiting:StripeConcurrency"] = "64" });

        var error = Assert.ThrowsAny<Exception>(() => api.Server);

        Assert.Contains("RateLimiting:StripeConcurrency was renamed Stripe:MaxCallsInFlight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_database_provider_stops_start_up_naming_the_setting()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Database:Provider"] = "Oracle" });

        var error = Assert.Throws<BffSessions.Hosting.SettingsException>(() => api.Server);

        Assert.StartsWith("Database:Provider is not supported; use Sqlite or Postgres.", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Oracle'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restricted_key_is_accepted()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Stripe:SecretKey"] = "rk_test_0123456789" });

        _ = api.Server;
    }

    [Fact]
    public async Task In_Development_without_a_key_the_offline_stand_in_serves_the_whole_flow()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?> { ["Stripe:SecretKey"] = "" });
        using var client = api.CreateClientFor("offline-user", "offline@example.com");

        using var first = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
        using var second = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var a = await first.Content.ReadFromJsonAsync<CustomerSessionResponse>();
        var b = await second.Content.ReadFromJsonAsync<CustomerSessionResponse>();
        Assert.StartsWith("cuss_secret_", a!.ClientSecret, StringComparison.Ordinal);
        Assert.NotEqual(a.ClientSecret, b!.ClientSecret);
        Assert.StartsWith("cus_", a.CustomerId, StringComparison.Ordinal);
        Assert.Equal(a.CustomerId, b.CustomerId);
        Assert.Empty(Stripe.Requests); // nothing left the process
        Assert.Contains(Logs.Events, e => e.Level == Serilog.Events.LogEventLevel.Warning && e.RenderMessage().Contains("offline Stripe stand-in", StringComparison.Ordinal));
    }

    [Fact]
    public async Task In_Development_the_offline_stand_ins_customers_outlive_a_restart_as_the_map_does()
    {
        var database = Path.Combine(Path.GetTempPath(), $"bffsessions-offline-{Guid.NewGuid():N}.db");
        var settings = new Dictionary<string, string?>
        {
            ["Stripe:SecretKey"] = "",
            ["ConnectionStrings:Customers"] = $"Data Source={database}",
            ["Stripe:OfflineStateFile"] = database + ".stripe.json",
        };
        try
        {
            string? before;
            await using (var api = new ApiFactory(Stripe, Logs, "Development", settings))
            {
                using var client = api.CreateClientFor("restarted-user");
                using var first = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
                before = (await first.Content.ReadFromJsonAsync<CustomerSessionResponse>())!.CustomerId;
            }

            await using (var api = new ApiFactory(Stripe, Logs, "Development", settings))
            {
                using var client = api.CreateClientFor("restarted-user");
                using var again = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });

                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
                Assert.Equal(before, (await again.Content.ReadFromJsonAsync<CustomerSessionResponse>())!.CustomerId);
                Assert.DoesNotContain(Logs.Events, e => e.MessageTemplate.Text.Contains("is gone from Stripe", StringComparison.Ordinal));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { database, database + "-wal", database + "-shm", database + ".stripe.json" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task An_unreachable_Stripe_is_a_502()
    {
        var closedPort = FreePort(); // nothing listens there
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Stripe:ApiBase"] = $"http://127.0.0.1:{closedPort}",
            ["Stripe:MaxNetworkRetries"] = "0",
        });
        using var client = api.CreateClientFor("unreachable-user");

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", Request);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(BffSessions.Api.Payments.PaymentProblems.StripeUnreachable.Type, problem.GetProperty("type").GetString());
        Assert.Contains(Logs.Lines, l => l.Contains("Stripe could not be reached", StringComparison.Ordinal));
    }

    /// <summary>
    /// The README's way to run another environment (the launch profile's ASPNETCORE_ENVIRONMENT would win over the
    /// shell's): <c>dotnet run --project src/BffSessions.Api -- --environment Production</c>. With nothing configured
    /// the service stops at once: one line naming the settings, no stack trace, exit code 1.
    /// </summary>
    [Fact]
    public async Task Run_in_Production_with_settings_missing_it_stops_with_one_line_and_exit_code_1()
    {
        var (exitCode, output, errors) = await DotnetCommand.RunAsync(
            ["run", "--no-build", "--project", Repository.PathOf("src", "BffSessions.Api"), "--", "--environment", "Production"],
            new Dictionary<string, string?>
            {
                ["ConnectionStrings__Customers"] = $"Data Source={Path.Combine(Path.GetTempPath(), $"bffsessions-stop-{Guid.NewGuid():N}.db")}",
            },
            TimeSpan.FromSeconds(60));

        var lines = (errors + output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, exitCode);
        var line = Assert.Single(lines, l => l.StartsWith("Start-up stopped:", StringComparison.Ordinal));
        Assert.Contains("Stripe:SecretKey is required outside Development", line, StringComparison.Ordinal);
        Assert.Contains("Nobody could sign in", line, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }
}
