using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>The <c>Database</c> section, and the <c>ConnectionStrings:Customers</c> it is used with.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    public string Provider { get; set; } = "Sqlite";

    /// <summary>Apply migrations at start; off for deployments that migrate in a separate step.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    public string? ConnectionString { get; set; }
}

public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        if (!options.Provider.Equals("Sqlite", StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail($"Database:Provider '{options.Provider}' is not supported; the supported provider is Sqlite.");
        }

        return string.IsNullOrWhiteSpace(options.ConnectionString)
            ? ValidateOptionsResult.Fail(
                "ConnectionStrings:Customers is empty (env var ConnectionStrings__Customers): set it to a SQLite connection string such as \"Data Source=bffsessions.db\".")
            : ValidateOptionsResult.Success;
    }
}
