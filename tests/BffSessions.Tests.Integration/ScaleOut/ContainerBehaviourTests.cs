using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// The service as a container runs it: its own process in Production, configured only by environment variables
/// and a mounted secrets directory, logging JSON lines to stdout, and stopped with SIGTERM.
/// </summary>
public sealed class ContainerBehaviourTests : StandInTest
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bffsessions-container-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task In_Production_it_reads_env_and_mounted_secretsLogs_JSON_lines_and_finishes_in_flight_requests_on_SIGTERM()
    {
        var secrets = Directory.CreateDirectory(Path.Combine(_directory, "secrets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(secrets, "Stripe__SecretKey"), ApiFactory.StripeKey);
        await using var process = ServiceProcess.Start(new Dictionary<string, string>(ApiFactory.ProcessEnvironment(Stripe))
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["BFFSESSIONS_SECRETS_DIRECTORY"] = secrets,
            ["ConnectionStrings__Customers"] = $"Data Source={Path.Combine(_directory, "customers.db")}",
        });
        using var http = new HttpClient { BaseAddress = await process.ReadyAsync(TimeSpan.FromSeconds(60)), Timeout = TimeSpan.FromSeconds(30) };
        Stripe.Override("/v1/customer_sessions", async (request, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            return Results.Json(StripeStandIn.Session(request.Form["customer"]));
        });
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("container-user"));
        // Warm the customer first, so the in-flight request below waits only on the (slow) session call.
        Stripe.Override("/v1/customers", (request, _) => Results.Json(new { id = "cus_container", @object = "customer" }));

        var inFlight = http.PostAsJsonAsync("/api/customer-sessions", new { components = new { pricingTable = new { enabled = true } } });
        await WaitForAsync(() => Stripe.RequestsTo("/v1/customer_sessions").Count == 1, TimeSpan.FromSeconds(10));
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("cuss_secret_", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("clientSecret").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(15)));

        // The key came from the mounted file, not the environment.
        Assert.Equal("Bearer " + ApiFactory.StripeKey, Stripe.RequestsTo("/v1/customer_sessions")[0].Headers["Authorization"]);
        var lines = process.Output.Where(l => l.Length > 0).ToList();

        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.True(JsonDocument.Parse(line).RootElement.TryGetProperty("@t", out _), line));
        Assert.Contains(lines, l => l.Contains("/api/customer-sessions", StringComparison.Ordinal) && l.Contains("\"StatusCode\":200", StringComparison.Ordinal));
        Assert.Empty(Secrets.FoundIn(lines));
    }

    [Fact]
    public async Task With_migrations_left_to_a_separate_step_the_service_starts_but_is_not_ready()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Database:MigrateOnStartup"] = "false" });
        using var client = api.CreateApiClient();

        using var live = await client.GetAsync("/health/live");
        using var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var database = (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("database");
        Assert.Equal("Unhealthy", database.GetProperty("status").GetString());
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(20);
        }
    }

}
