using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>The <c>Database</c> section, and the <c>ConnectionStrings:Customers</c> it is used with.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Apply migrations at start; off for deployments that migrate in a separate step.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    public string? ConnectionString { get; set; }
}

/// <summary>The <c>Customers</c> section: the in-memory map in front of the database.</summary>
public sealed class CustomersOptions
{
    public const string SectionName = "Customers";

    /// <summary>What a new user becomes in Stripe; users already in the map keep the kind they have.</summary>
    public CustomerKind Kind { get; set; } = CustomerKind.Customer;

    /// <summary>Most users kept in memory; the least recently added are dropped first when it is full.</summary>
    [Range(1, 10_000_000)]
    public int CacheSize { get; set; } = 100_000;

    /// <summary>How long a user's customer id is trusted from memory before the database is asked again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMinutes(10);
}

public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options) =>
        string.IsNullOrWhiteSpace(options.ConnectionString)
            ? ValidateOptionsResult.Fail(
                "ConnectionStrings:Customers is empty (env var ConnectionStrings__Customers): set a SQLite connection string such as " +
                "\"Data Source=bffsessions.db\", or a PostgreSQL one with Database:Provider=Postgres.")
            : ValidateOptionsResult.Success;
}
