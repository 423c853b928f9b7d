namespace BffSessions.Tests.Infrastructure;

/// <summary>The schemas earlier code made (tests/BffSessions.Tests.Infrastructure/Schemas), copied beside the test assembly.</summary>
public static class SchemaFiles
{
    public static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Schemas", name));
}
