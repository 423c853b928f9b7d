using BffSessions.Hosting;

namespace BffSessions.Api.Data;

/// <summary>The problems the database can end a request in (see the README's error table).</summary>
public static class DataProblemTypes
{
    public const string DatabaseUnavailable = ProblemTypes.Prefix + "database-unavailable";
}
