using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public const string ConnectionStringName = "Customers";

    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(ConnectionStringName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();
        builder.Services.AddOptions<CustomersOptions>()
            .BindConfiguration(CustomersOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // The provider picks the context type (and so the migrations), so it must be known while registering.
        switch (ReadProvider(builder.Configuration))
        {
            case DatabaseProvider.Postgres:
                // Connections broken by a server restart fail once and are retried on a fresh one, so the first
                // requests after an outage succeed instead of answering 503.
                AddContext<PostgresCustomersDbContext>(builder, (db, connection) => db.UseNpgsql(connection, npgsql =>
                    npgsql.EnableRetryOnFailure(maxRetryCount: 2, maxRetryDelay: TimeSpan.FromMilliseconds(500), errorCodesToAdd: null)));
                break;
            default:
                AddContext<SqliteCustomersDbContext>(builder, (db, connection) => db.UseSqlite(connection));
                break;
        }

        // Cookie encryption keys live beside the customers, so every instance can read every instance's cookies.
        builder.Services.AddDataProtection().PersistKeysToDbContext<CustomersDbContext>();
        builder.Services.AddSingleton<CustomerCache>();
        builder.Services.AddSingleton<CustomerResolver>();
        builder.Services.AddExceptionHandler<DatabaseProblemHandler>();
        builder.Services.AddHealthChecks().AddCheck<CustomerDatabaseHealthCheck>("database", tags: ["ready"]);
        return builder;
    }

    /// <summary>Brings the schema up to date before the first request, unless Database:MigrateOnStartup is false.</summary>
    public static async Task MigrateCustomersAsync(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (!options.MigrateOnStartup)
        {
            return;
        }

        var databases = app.Services.GetRequiredService<IDbContextFactory<CustomersDbContext>>();
        await using var db = await databases.CreateDbContextAsync();
        if (options.Provider == DatabaseProvider.Sqlite
            && Path.GetDirectoryName(Path.GetFullPath(new SqliteConnectionStringBuilder(options.ConnectionString).DataSource)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }

        await db.Database.MigrateAsync();
    }

    private static DatabaseProvider ReadProvider(IConfiguration configuration)
    {
        var value = configuration[$"{DatabaseOptions.SectionName}:Provider"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DatabaseProvider.Sqlite;
        }

        return Enum.TryParse<DatabaseProvider>(value, ignoreCase: true, out var provider) && Enum.IsDefined(provider)
            ? provider
            : throw new InvalidOperationException($"Database:Provider '{value}' is not supported; use Sqlite or Postgres.");
    }

    /// <summary>
    /// A pooled factory for the provider's context, exposed as the shared base type, plus a scoped instance for
    /// Data Protection's key store.
    /// </summary>
    private static void AddContext<TContext>(IHostApplicationBuilder builder, Action<DbContextOptionsBuilder, string> configure)
        where TContext : CustomersDbContext
    {
        builder.Services.AddPooledDbContextFactory<TContext>((services, db) =>
            configure(db, services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString!));
        builder.Services.AddSingleton<IDbContextFactory<CustomersDbContext>>(services =>
            new BaseTypeFactory<TContext>(services.GetRequiredService<IDbContextFactory<TContext>>()));
        builder.Services.AddScoped<CustomersDbContext>(services => services.GetRequiredService<IDbContextFactory<TContext>>().CreateDbContext());
    }

    private sealed class BaseTypeFactory<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<CustomersDbContext>
        where TContext : CustomersDbContext
    {
        public CustomersDbContext CreateDbContext() => inner.CreateDbContext();

        public async Task<CustomersDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default) =>
            await inner.CreateDbContextAsync(cancellationToken);
    }
}
