using BffSessions.Hosting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Trace;

namespace BffSessions.Api.Data;

public static class DataExtensions
{
    public static IHostApplicationBuilder AddDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(DatabaseOptions.ConnectionStringName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();

        // The provider picks the context type (and so the migrations), so it is bound here, while registering,
        // from the same section the options above read.
        switch (ReadProvider(builder.Configuration))
        {
            case DatabaseProvider.Postgres:
                // Connections broken by a server restart fail once and are retried on a fresh one, so the first
                // requests after an outage succeed instead of answering 503.
                AddContext<PostgresAppDbContext>(builder, (db, connection) => db.UseNpgsql(connection, npgsql =>
                    npgsql.EnableRetryOnFailure(maxRetryCount: 2, maxRetryDelay: TimeSpan.FromMilliseconds(500), errorCodesToAdd: null)));
                // Npgsql's own spans (the SQL as EF wrote it: placeholders, never values).
                builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddNpgsql());
                break;
            default:
                AddContext<SqliteAppDbContext>(builder, (db, connection) => db.UseSqlite(connection));
                // SQLite's driver has no spans of its own: EF Core's (the SQL with literals and parameters masked).
                builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddEntityFrameworkCoreInstrumentation());
                break;
        }

        // Data Protection, configured here alone: the keys that encrypt cookies live in this database under one
        // application name, so every instance that shares it can read every other instance's cookies.
        builder.Services.AddDataProtection()
            .SetApplicationName("BffSessions")
            .PersistKeysToDbContext<AppDbContext>();
        builder.Services.AddExceptionHandler<DatabaseProblemHandler>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<DatabaseHealthCheck>();  // trusts a schema it found up to date for a minute
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        return builder;
    }

    /// <summary>The provider, while registering: features whose services differ by provider ask here.</summary>
    internal static DatabaseProvider ReadProvider(IConfiguration configuration)
    {
        const string unsupported = "Database:Provider is not supported; use Sqlite or Postgres.";
        DatabaseProvider provider;
        try
        {
            provider = configuration.GetSection(DatabaseOptions.SectionName).Get<DatabaseOptions>()?.Provider ?? DatabaseProvider.Sqlite;
        }
        catch (InvalidOperationException e)
        {
            // The binder's message names the value: "Failed to convert configuration value 'Oracle' at 'Database:Provider' …".
            throw new SettingsException($"{unsupported} {e.Message}", e);
        }

        // The binder also takes numbers ("7") for an enum: only the named providers are real.
        return Enum.IsDefined(provider) ? provider : throw new SettingsException($"{unsupported} Got {(int)provider}.");
    }

    /// <summary>
    /// A pooled factory for the provider's context, exposed as the shared base type, plus a scoped instance for
    /// Data Protection's key store.
    /// </summary>
    private static void AddContext<TContext>(IHostApplicationBuilder builder, Action<DbContextOptionsBuilder, string> configure)
        where TContext : AppDbContext
    {
        builder.Services.AddPooledDbContextFactory<TContext>((services, db) =>
            configure(db, services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString!));
        builder.Services.AddSingleton<IDbContextFactory<AppDbContext>>(services =>
            new BaseTypeFactory<TContext>(services.GetRequiredService<IDbContextFactory<TContext>>()));
        builder.Services.AddScoped<AppDbContext>(services => services.GetRequiredService<IDbContextFactory<TContext>>().CreateDbContext());
    }

    private sealed class BaseTypeFactory<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<AppDbContext>
        where TContext : AppDbContext
    {
        public AppDbContext CreateDbContext() => inner.CreateDbContext();

        public async Task<AppDbContext> CreateDbContextAsync(CancellationToken cancellationToken = default) =>
            await inner.CreateDbContextAsync(cancellationToken);
    }
}
