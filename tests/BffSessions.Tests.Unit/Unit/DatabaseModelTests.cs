using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace BffSessions.Tests.Unit;

/// <summary>
/// Each provider's migrations, and its compiled model (Data/CompiledModels, what the service runs on), describe the
/// model as the code has it: a change to an entity, or to a feature's configuration of one, without its migration or
/// without the compiled model made again fails here rather than at a deployment.
/// </summary>
public sealed class DatabaseModelTests
{
    [Fact]
    public void The_SQLite_migrations_hold_every_model_change()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);

        Assert.False(db.Database.HasPendingModelChanges(), "dotnet ef migrations add <Name> --context SqliteAppDbContext --output-dir Data/Migrations/Sqlite");
    }

    [Fact]
    public void The_PostgreSQL_migrations_hold_every_model_change()
    {
        using var db = new PostgresDesignTimeFactory().CreateDbContext([]);

        Assert.False(db.Database.HasPendingModelChanges(), "dotnet ef migrations add <Name> --context PostgresAppDbContext --output-dir Data/Migrations/Postgres");
    }

    [Fact]
    public void The_SQLite_compiled_model_is_the_model_the_code_configures()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);

        AssertCompiledModelMatches(db, "SqliteAppDbContext", "Sqlite");
    }

    [Fact]
    public void The_PostgreSQL_compiled_model_is_the_model_the_code_configures()
    {
        using var db = new PostgresDesignTimeFactory().CreateDbContext([]);

        AssertCompiledModelMatches(db, "PostgresAppDbContext", "Postgres");
    }

    /// <summary>
    /// The compiled model (found by its assembly attribute, so used wherever the context is) against the model
    /// OnModelCreating builds: the same tables, columns, keys and indexes, and per property the same CLR type,
    /// converter and nullability, the parts of a model that decide what the SQL reads and writes. (EF Core's model
    /// differ needs design-time annotations a compiled model leaves out, so the comparison is spelled out.)
    /// </summary>
    private static void AssertCompiledModelMatches(AppDbContext db, string context, string folder)
    {
        var regenerate = $"dotnet ef dbcontext optimize --project src/BffSessions.Api --context {context} " +
            $"--output-dir Data/CompiledModels/{folder} --namespace BffSessions.Api.Data.CompiledModels.{folder}";
        var compiled = db.Model;
        var configured = db.GetService<IDesignTimeModel>().Model;
        Assert.True(compiled is RuntimeModel && compiled.GetType().Namespace!.EndsWith(folder, StringComparison.Ordinal), $"no compiled model is in use: {regenerate}");

        Assert.Equal(Describe(configured.GetRelationalModel()), Describe(compiled.GetRelationalModel()));
        foreach (var entity in configured.GetEntityTypes())
        {
            var twin = compiled.FindEntityType(entity.Name);
            Assert.True(twin is not null, $"{entity.Name} is missing from the compiled model: {regenerate}");
            foreach (var property in entity.GetProperties())
            {
                var other = twin.FindProperty(property.Name);
                Assert.True(other is not null
                    && other.ClrType == property.ClrType
                    && other.IsNullable == property.IsNullable
                    && other.GetValueConverter()?.GetType() == property.GetValueConverter()?.GetType(),
                    $"{entity.Name}.{property.Name} differs in the compiled model: {regenerate}");
            }
        }
    }

    /// <summary>One line per table, column, key and index, sorted: a failure shows the lines that differ.</summary>
    private static string[] Describe(IRelationalModel model) =>
        model.Tables.SelectMany(table =>
                table.Columns.Select(c => $"{table.Name}.{c.Name} {c.StoreType} {(c.IsNullable ? "null" : "not null")}")
                    .Concat(table.UniqueConstraints.Select(k => $"{table.Name} key {k.Name} ({string.Join(", ", k.Columns.Select(c => c.Name))})"))
                    .Concat(table.Indexes.Select(i => $"{table.Name} index {i.Name} ({string.Join(", ", i.Columns.Select(c => c.Name))}){(i.IsUnique ? " unique" : "")}"))
                    .Append($"{table.Name} primary key ({string.Join(", ", table.PrimaryKey?.Columns.Select(c => c.Name) ?? [])})"))
            .Order(StringComparer.Ordinal)
            .ToArray();
}
