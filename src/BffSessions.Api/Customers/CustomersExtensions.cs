using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public const string ConnectionStringName = "Customers";

    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        // Read through options, not builder.Configuration, so that every configuration source — test hosts'
        // included — is in place when the values are used.
        builder.Services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(ConnectionStringName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();

        builder.Services.AddPooledDbContextFactory<CustomersDbContext>((services, db) =>
            db.UseSqlite(services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        builder.Services.AddSingleton<CustomerResolver>();
        return builder;
    }

    /// <summary>Brings the schema up to date before the first request, unless Database:MigrateOnStartup is false.</summary>
    public static async Task MigrateCustomersAsync(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.MigrateOnStartup)
        {
            return;
        }

        var databases = app.Services.GetRequiredService<IDbContextFactory<CustomersDbContext>>();
        await using var db = await databases.CreateDbContextAsync();
        var file = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }

        await db.Database.MigrateAsync();
    }
}

/// <summary>For `dotnet ef migrations add`: builds the context without starting the service.</summary>
public sealed class CustomersDesignTimeFactory : IDesignTimeDbContextFactory<CustomersDbContext>
{
    public CustomersDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<CustomersDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
