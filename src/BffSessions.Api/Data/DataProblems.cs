using BffSessions.Hosting;

namespace BffSessions.Api.Data;

/// <summary>The problems the database can end a request in (docs/api.md's error table).</summary>
public static class DataProblems
{
    public static readonly ProblemKind DatabaseUnavailable = new(StatusCodes.Status503ServiceUnavailable, "database-unavailable", "Database unavailable");

    public const string UnavailableDetail =
        "The service cannot reach its database (customers and browser sessions) right now. Retry after the time in the Retry-After header.";
}
