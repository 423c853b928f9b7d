using System.Net;
using System.Net.Http.Json;
using BffSessions.Api.Data;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// A Deployment's first day and every upgrade: instances started together on a new or an outdated PostgreSQL all
/// come up, and a deployment that migrates first has a one-shot command for it. Each instance is its own process, as
/// a pod is: a failed migration would end it with an unhandled exception.
/// </summary>
[Collection(RunsAlone.Name)] // three processes starting at once on two cores: nothing else beside them
public sealed class MigrationTests : StandInTest
{
    private PostgresServer? _database;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        if (PostgresServer.BinDirectory is not null)
        {
            _database = await PostgresServer.StartAsync();
        }
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    [SkippableFact]
    public async Task Three_instances_started_together_on_a_new_database_all_come_up_round_after_round()
    {
        PostgresServer.Require();
        for (var round = 1; round <= 4; round++)
        {
            var database = $"fresh_{round}";

            var instances = await StartTogetherAsync(database, 3);

            await AssertAllServeAsync(instances);
            Assert.Empty(await PendingMigrationsAsync(database));
            await DisposeAllAsync(instances);
        }
    }

    [SkippableFact]
    public async Task Instances_racing_onto_the_oldest_schema_upgrade_it_once_and_all_come_up()
    {
        PostgresServer.Require();
        const string database = "upgraded";
        await using (var db = Context(database))
        {
            var oldest = db.Database.GetMigrations().First();
            await db.GetService<IMigrator>().MigrateAsync(oldest);
            Assert.Equal(db.Database.GetMigrations().Count() - 1, (await db.Database.GetPendingMigrationsAsync()).Count());
        }

        var instances = await StartTogetherAsync(database, 3);

        await AssertAllServeAsync(instances);
        Assert.Empty(await PendingMigrationsAsync(database));
        await DisposeAllAsync(instances);
    }

    [SkippableFact]
    public async Task The_migrate_command_applies_what_is_pending_once_however_many_run_at_once_and_exits_0()
    {
        PostgresServer.Require();
        var environment = DatabaseEnvironment("migrated_by_command");
        var commands = Enumerable.Range(0, 3).Select(_ => ServiceProcess.Start(environment, null, "migrate")).ToList();

        var exits = await Task.WhenAll(commands.Select(c => c.WaitForExitAsync(TimeSpan.FromMinutes(2))));

        Assert.All(exits, code => Assert.Equal(0, code));
        var lines = commands.Select(c => Assert.Single(c.Output, line => line.Length > 0)).ToList();
        Assert.Single(lines, line => line.Contains("migration(s) applied", StringComparison.Ordinal));
        Assert.Equal(2, lines.Count(line => line.Contains("no migration was pending", StringComparison.Ordinal)));
        Assert.Empty(await PendingMigrationsAsync("migrated_by_command"));
        await DisposeAllAsync(commands);

        // Then the service, told not to migrate, is ready at once.
        await using var service = ServiceProcess.Start(new Dictionary<string, string>(ServiceEnvironment("migrated_by_command")) { ["Database__MigrateOnStartup"] = "false" });
        await service.ReadyAsync(TimeSpan.FromSeconds(60));
    }

    [SkippableFact]
    public async Task The_migrate_command_says_in_one_line_why_it_failed_and_exits_1()
    {
        PostgresServer.Require();
        var environment = new Dictionary<string, string>(DatabaseEnvironment("unreachable"))
        {
            ["ConnectionStrings__Customers"] = $"Host=127.0.0.1;Port={FreePort()};Username=postgres;Database=unreachable;Timeout=2",
        };
        await using var command = ServiceProcess.Start(environment, null, "migrate");

        var exit = await command.WaitForExitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(1, exit);
        var line = Assert.Single(command.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Migration failed: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", line, StringComparison.Ordinal);
    }

    private async Task<List<ServiceProcess>> StartTogetherAsync(string database, int count)
    {
        var environment = ServiceEnvironment(database);
        var instances = Enumerable.Range(0, count).Select(_ => ServiceProcess.Start(environment)).ToList();
        try
        {
            await Task.WhenAll(instances.Select(i => i.ReadyAsync(TimeSpan.FromMinutes(2))));
        }
        catch (InvalidOperationException e)
        {
            var exited = instances.Where(i => i.HasExited).Select(i => $"exit {i.ExitCode}: {i.Errors}");
            await DisposeAllAsync(instances);
            Assert.Fail($"Not every instance came up. {e.Message} {string.Join(" | ", exited)}");
        }

        return instances;
    }

    private static async Task AssertAllServeAsync(List<ServiceProcess> instances)
    {
        foreach (var instance in instances)
        {
            Assert.False(instance.HasExited);
            using var client = new HttpClient { BaseAddress = await instance.ListeningAsync(TimeSpan.FromSeconds(5)) };
            client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("migration-user-" + instance.Id));
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static async Task DisposeAllAsync(IEnumerable<ServiceProcess> processes)
    {
        foreach (var process in processes)
        {
            await process.DisposeAsync();
        }
    }

    private Dictionary<string, string> DatabaseEnvironment(string database) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["Database__Provider"] = "Postgres",
        ["ConnectionStrings__Customers"] = _database!.ConnectionString(database),
    };

    private Dictionary<string, string> ServiceEnvironment(string database) => new(DatabaseEnvironment(database).Concat(ApiFactory.ProcessEnvironment(Stripe)))
    {
        ["Stripe__SecretKey"] = ApiFactory.StripeKey,
    };

    private PostgresAppDbContext Context(string database) =>
        new(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql(_database!.ConnectionString(database)).Options);

    private async Task<List<string>> PendingMigrationsAsync(string database)
    {
        await using var db = Context(database);
        return (await db.Database.GetPendingMigrationsAsync()).ToList();
    }
}
