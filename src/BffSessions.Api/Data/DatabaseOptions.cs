using Microsoft.Extensions.Options;

namespace BffSessions.Api.Data;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>The <c>Database</c> section, and the <c>ConnectionStrings:Customers</c> it is used with.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    public const string ConnectionStringName = "Customers";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>Apply migrations at start; off for deployments that migrate in a separate step.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    public string? ConnectionString { get; set; }
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
