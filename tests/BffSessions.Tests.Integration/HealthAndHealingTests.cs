using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Api.Data;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests;

/// <summary>Health and self-healing on the default SQLite database.</summary>
public sealed class HealthAndHealingTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    [Fact]
    public async Task Live_and_ready_answer_JSON_without_secrets()
    {
        using var client = Api.CreateApiClient();

        using var live = await client.GetAsync("/health/live");
        using var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("Healthy", (await live.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var report = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["database", "stripe-settings"], report.GetProperty("checks").EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("Data Source", report.ToString(), StringComparison.Ordinal);
        Assert.Empty(Secrets.FoundIn([report.ToString()]));
    }

    [Fact]
    public async Task Readiness_trusts_an_up_to_date_schema_for_a_minute_then_sees_it_fall_behind()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = new ApiFactory(Stripe, Fixture.Logs, services: services => services.AddSingleton<TimeProvider>(time));
        using var client = api.CreateApiClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        // As a database restored from a backup taken before the last migration: its history lacks that migration.
        await using (var db = await api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            var last = db.Database.GetMigrations().Last();
            Assert.Equal(1, await db.Database.ExecuteSqlAsync($"DELETE FROM __EFMigrationsHistory WHERE MigrationId = {last}"));
        }

        using var withinTheMinute = await client.GetAsync("/health/ready");
        time.Advance(TimeSpan.FromSeconds(61));
        using var afterIt = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, withinTheMinute.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, afterIt.StatusCode);
        Assert.Contains("1 migration(s) not applied", await afterIt.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_customer_deleted_in_Stripe_is_replaced_once_and_every_concurrent_request_succeeds()
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId);
        var original = await CustomerOfSessionAsync(client);
        Assert.True(Stripe.DeleteCustomer(original));

        var healed = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => CustomerOfSessionAsync(client)));

        var replacement = Assert.Single(healed.Distinct());
        Assert.NotEqual(original, replacement);
        Assert.Equal(2, Stripe.RequestsTo("/v1/customers").Count);
        Assert.Equal(replacement, (await Api.StoredLinkAsync(userId))?.CustomerId);
        Assert.Contains(LogLines, l => l.Contains($"Customer \"{original}\" of user \"{userId}\" is gone from Stripe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_replacement_Stripe_does_not_know_either_is_a_502_problem_not_a_second_replacement()
    {
        var userId = NewUserId();
        using var client = Api.CreateClientFor(userId);
        var original = await CustomerOfSessionAsync(client);
        Stripe.Reset();
        Stripe.Override("/v1/customer_sessions", (request, _) => StripeStandIn.Error(400, "invalid_request_error", "resource_missing",
            $"No such customer: '{request.Form["customer"]}'", "customer"));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(BffSessions.Api.Payments.PaymentProblems.StripeError.Type, problem.GetProperty("type").GetString());
        Assert.Single(Stripe.RequestsTo("/v1/customers"));
        Assert.Equal(2, Stripe.RequestsTo("/v1/customer_sessions").Count);
        var replacement = (await Api.StoredLinkAsync(userId))?.CustomerId;
        Assert.NotEqual(original, replacement);
        Assert.Contains(LogLines, l => l.Contains($"does not know customer \"{replacement}\" even after it was replaced", StringComparison.Ordinal));
    }

    private static async Task<string> CustomerOfSessionAsync(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!;
    }
}
