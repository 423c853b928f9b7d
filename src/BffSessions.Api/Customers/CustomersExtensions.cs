using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public const string ConnectionStringName = "Customers";

    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                "ConnectionStrings:Customers is empty (env var ConnectionStrings__Customers): set it to a SQLite connection string such as \"Data Source=bffsessions.db\".");
        }

        builder.Services.AddPooledDbContextFactory<CustomersDbContext>(db => db.UseSqlite(connectionString));
        builder.Services.AddSingleton<CustomerResolver>();
        return builder;
    }

    /// <summary>Brings the schema up to date before the first request, unless Database:MigrateOnStartup is false.</summary>
    public static async Task MigrateCustomersAsync(this WebApplication app)
    {
        if (!app.Configuration.GetValue("Database:MigrateOnStartup", defaultValue: true))
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
