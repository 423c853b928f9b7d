using System.Data.Common;

namespace BffSessions.Tests.Infrastructure;

/// <summary>The schemas earlier code made (tests/BffSessions.Tests.Infrastructure/Schemas), copied beside the test assembly.</summary>
public static class SchemaFiles
{
    public static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Schemas", name));

    /// <summary>
    /// A query's first column, one line per row, as the upgrade tests compare a database's schema and rows: the query
    /// orders them, so two databases alike give the same text and a failure shows the lines that differ.
    /// </summary>
    public static async Task<string> LinesAsync(DbCommand query)
    {
        var lines = new List<string>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }
}
