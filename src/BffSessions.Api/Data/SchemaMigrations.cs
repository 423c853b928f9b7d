using BffSessions.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BffSessions.Api.Data;

/// <summary>
/// Bringing the schema up to date, safely with any number of instances doing it at once: a Deployment's replicas on
/// their first day, or an upgrade rolled onto several pods. EF Core locks the history table per migration but reads
/// what is applied once, before; a second instance would replay the migrations the first had applied meanwhile
/// ("column already exists") and exit. So on PostgreSQL the whole run holds one advisory lock, taken before EF reads
/// the history: whoever gets it second finds the work done. (SQLite serves one instance; EF's own lock table guards
/// the file.)
/// </summary>
public static class SchemaMigrations
{
    /// <summary>The lock's two keys: "BFFS" and 1, in the two-key space, apart from the per-user locks' single keys.</summary>
    private const int LockClass = 0x42464653;
    private const int LockObject = 1;

    /// <summary>Brings the schema up to date before the first request, unless Database:MigrateOnStartup is false.</summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.MigrateOnStartup)
        {
            await MigrateAsync(app.Services, app.Lifetime.ApplicationStopping);
        }
    }

    /// <summary>Applies the pending migrations, under the deployment-wide lock; returns how many there were.</summary>
    public static async Task<int> MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        var databases = services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        if (options.Provider == DatabaseProvider.Sqlite
            && Path.GetDirectoryName(Path.GetFullPath(new SqliteConnectionStringBuilder(options.ConnectionString).DataSource)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }

        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        if (options.Provider == DatabaseProvider.Postgres)
        {
            await CreateDatabaseIfMissingAsync(db, cancellationToken);
        }

        await using var held = options.Provider == DatabaseProvider.Postgres ? await LockAsync(options.ConnectionString!, cancellationToken) : null;
        // Read only now, under the lock: what another instance applied while this one waited is not applied again.
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
        if (pending > 0)
        {
            await db.Database.MigrateAsync(cancellationToken);
        }

        return pending;
    }

    /// <summary>
    /// `dotnet BffSessions.Api.dll migrate`: the one-shot step of a deployment that migrates before it rolls out (a
    /// Kubernetes Job or init container, compose's migrate service). Needs only the database's settings; exit code 0,
    /// or 1 with one line on stderr.
    /// </summary>
    public static async Task<int> RunCommandAsync(string[] args)
    {
        try
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                Args = args.Skip(1).ToArray(),
                // The same environment the service would run in, whichever variable names it.
                EnvironmentName = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT"),
            });
            builder.AddRepositorySettings();
            builder.Logging.ClearProviders();
            builder.AddDatabase();
            using var host = builder.Build();
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                stop.Cancel();
            };
            var applied = await MigrateAsync(host.Services, stop.Token);
            Console.WriteLine(applied == 0
                ? "The database is up to date: no migration was pending."
                : $"The database is up to date: {applied} migration(s) applied.");
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Migration failed: {SettingsFailures.MessageOf(e) ?? OneLine(e)}");
            return 1;
        }
    }

    /// <summary>
    /// The lock lives in the database, so the database must exist first. Instances racing to create it: one wins, the
    /// others are told it exists (42P04, or a unique violation in the catalogue), which is what they wanted.
    /// </summary>
    private static async Task CreateDatabaseIfMissingAsync(AppDbContext db, CancellationToken cancellationToken)
    {
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (await creator.ExistsAsync(cancellationToken))
        {
            return;
        }

        try
        {
            await creator.CreateAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
        }
    }

    /// <summary>
    /// A session-level advisory lock on a connection of its own (unpooled, so that the lock ends with it): held across
    /// the migrations' own transactions, and released by PostgreSQL if this process dies holding it.
    /// </summary>
    private static async Task<NpgsqlConnection> LockAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            ApplicationName = "bffsessions-migrations",
        }.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"SELECT pg_advisory_lock({LockClass}, {LockObject})", connection) { CommandTimeout = 0 };
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static string OneLine(Exception e) => LogValues.Text(e.GetBaseException().Message.ReplaceLineEndings(" "));
}
