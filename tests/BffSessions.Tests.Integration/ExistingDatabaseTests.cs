using BffSessions.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace BffSessions.Tests;

/// <summary>
/// A SQLite database made by earlier code (tests/BffSessions.Tests.Infrastructure/Schemas) keeps its tables and rows when the
/// current service starts on it: moving an entity's configuration into its feature changed no table, so there is
/// nothing to migrate and the users it holds keep their customers.
/// </summary>
public sealed class ExistingDatabaseTests : StandInTest
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-existing-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task A_database_made_before_the_features_owned_their_entities_starts_with_nothing_to_apply_and_its_users_keep_their_customers()
    {
        var customerId = await Stripe.CreateCustomerAsync("long-time-user");
        await using (var db = await OpenAsync())
        {
            await ExecuteAsync(db, SchemaFiles.Read("before-features-owned-data.sqlite.sql"));
            await ExecuteAsync(db, $"""
                INSERT INTO customer_links (issuer, user_id, customer_id, kind, created_at, updated_at)
                    VALUES ('{ApiFactory.Issuer}', 'long-time-user', '{customerId}', 'Customer', '2026-11-30 10:00:00+00:00', '2026-11-30 10:00:00+00:00');
                INSERT INTO processed_stripe_events (id, type, received_at) VALUES ('evt_earlier', 'customer.deleted', '2026-11-30 10:00:00+00:00');
                """);
        }
        var before = await SchemaAndRowsAsync();
        var customersMade = Stripe.RequestsTo("/v1/customers").Count;

        await using (var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["ConnectionStrings:Customers"] = $"Data Source={_database}" }))
        {
            using var client = api.CreateClientFor("long-time-user");
            Assert.Equal(customerId, await BffRequests.CustomerOfSessionAsync(client));
        }

        Assert.Equal(customersMade, Stripe.RequestsTo("/v1/customers").Count);
        Assert.Equal(before, await SchemaAndRowsAsync());
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        File.Delete(_database);
    }

    private async Task<SqliteConnection> OpenAsync()
    {
        var db = new SqliteConnection($"Data Source={_database}");
        await db.OpenAsync();
        return db;
    }

    private static async Task ExecuteAsync(SqliteConnection db, string sql)
    {
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Every table's and index's definition, the migrations applied, and the rows the test put in.</summary>
    private async Task<string> SchemaAndRowsAsync()
    {
        await using var db = await OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = """
            SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master
            UNION ALL SELECT 'migration ' || "MigrationId" FROM "__EFMigrationsHistory"
            UNION ALL SELECT 'link ' || issuer || ' ' || user_id || ' ' || customer_id || ' ' || coalesce(forgotten_at, '-') FROM customer_links
            UNION ALL SELECT 'event ' || id || ' ' || type FROM processed_stripe_events
            ORDER BY 1
            """;
        return await SchemaFiles.LinesAsync(command);
    }
}
