using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Sees every command the service sends to its database, and can fail the ones a test picks (by default with the
/// error SQLite gives when another writer holds the lock). Register it with
/// <c>services.ConfigureDbContext&lt;SqliteAppDbContext&gt;</c> (or the PostgreSQL one).
/// </summary>
public sealed class DbCommandSpy : DbCommandInterceptor
{
    private readonly LockedCollection<string> _commands = new();

    /// <summary>The commands sent so far, as SQL text.</summary>
    public IReadOnlyList<string> Commands => _commands.Snapshot();

    /// <summary>Which commands fail while set; null lets every command through.</summary>
    public Func<string, bool>? Fail { get; set; }

    /// <summary>What a failing command throws: SQLite's "database is locked" unless set.</summary>
    public Func<Exception> Failure { get; set; } = () => new SqliteException("database is locked", 5); // SQLITE_BUSY

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Observe(command);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Observe(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Observe(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Observe(command);
        return ValueTask.FromResult(result);
    }

    private void Observe(DbCommand command)
    {
        _commands.Add(command.CommandText);
        if (Fail?.Invoke(command.CommandText) == true)
        {
            throw Failure();
        }
    }
}
