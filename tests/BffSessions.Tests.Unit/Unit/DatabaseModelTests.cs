using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;

namespace BffSessions.Tests.Unit;

/// <summary>
/// Each provider's migrations describe the model as the code has it: a change to an entity, or to a feature's
/// configuration of one, without its migration fails here rather than at a deployment.
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
}
