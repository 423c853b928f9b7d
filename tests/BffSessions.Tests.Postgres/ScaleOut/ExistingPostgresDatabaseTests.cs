using BffSessions.Tests.Infrastructure;
using Npgsql;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// A PostgreSQL database made by earlier code (tests/BffSessions.Tests.Infrastructure/Schemas) ends, when the current
/// service starts on it, with exactly the tables, indexes and functions a new database gets, and keeps its rows: moving
/// an entity's configuration into its feature, and the call schedule into Payments, changed nothing in the database,
/// and the migrations made since apply on top of it.
/// </summary>
public sealed class ExistingPostgresDatabaseTests : StandInTest
{
    private PostgresServer? _server;

    [SkippableFact]
    public async Task A_database_made_before_the_features_owned_their_entities_gets_todays_schema_and_its_users_keep_their_customers()
    {
        PostgresServer.Require();
        _server = await PostgresServer.StartAsync();
        var customerId = await Stripe.CreateCustomerAsync("long-time-user");
        await ExecuteAsync(_server.ConnectionString("postgres"), "CREATE DATABASE earlier");
        var connectionString = _server.ConnectionString("earlier");
        await ExecuteAsync(connectionString, SchemaFiles.Read("before-features-owned-data.postgres.sql"));
        var rows = $"""
            INSERT INTO customer_links (issuer, user_id, customer_id, kind, created_at, updated_at)
                VALUES ('{ApiFactory.Issuer}', 'long-time-user', '{customerId}', 'Customer', '2026-11-30T10:00:00Z', '2026-11-30T10:00:00Z');
            INSERT INTO processed_stripe_events (id, type, received_at) VALUES ('evt_earlier', 'customer.deleted', '2026-11-30T10:00:00Z');
            """;
        await ExecuteAsync(connectionString, rows);
        var customersMade = Stripe.RequestsTo("/v1/customers").Count;

        await using (var api = StartOn(connectionString))
        {
            using var client = api.CreateClientFor("long-time-user");
            Assert.Equal(customerId, await BffRequests.CustomerOfSessionAsync(client));
        }

        // Today's schema: a new database the service migrates, with the same rows put in.
        await ExecuteAsync(_server.ConnectionString("postgres"), "CREATE DATABASE today");
        await using (var api = StartOn(_server.ConnectionString("today")))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await api.CreateApiClient().GetAsync("/health/ready")).StatusCode);
        }

        await ExecuteAsync(_server.ConnectionString("today"), rows);
        Assert.Equal(customersMade, Stripe.RequestsTo("/v1/customers").Count);
        Assert.Equal(await SchemaAndRowsAsync(_server.ConnectionString("today")), await SchemaAndRowsAsync(connectionString));
    }

    private ApiFactory StartOn(string connectionString) => new(Stripe, Logs, settings: new Dictionary<string, string?>
    {
        ["Database:Provider"] = "Postgres",
        ["ConnectionStrings:Customers"] = connectionString,
    });

    public override async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Every column, index and function, the migrations applied, and the rows the test put in.</summary>
    private static async Task<string> SchemaAndRowsAsync(string connectionString)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
                FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL SELECT 'function ' || p.proname || ': ' || md5(pg_get_functiondef(p.oid))
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
            UNION ALL SELECT 'migration ' || "MigrationId" FROM "__EFMigrationsHistory"
            UNION ALL SELECT 'link ' || issuer || ' ' || user_id || ' ' || customer_id || ' ' || coalesce(forgotten_at::text, '-') FROM customer_links
            UNION ALL SELECT 'event ' || id || ' ' || type FROM processed_stripe_events
            ORDER BY 1
            """, db);
        return await SchemaFiles.LinesAsync(command);
    }
}
