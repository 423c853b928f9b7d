using BffSessions.Api.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace BffSessions.Api.Customers;

/// <summary>
/// One writer of a user's map entry at a time: a lock in this process (one of a fixed set of stripes, so memory stays
/// bounded; two users sharing a stripe only wait for each other's first request), then the database's own lock on the
/// user (<see cref="AppDbContext.LockAsync"/>: an advisory lock on PostgreSQL, across every instance). The work runs
/// within the database's execution strategy, so it may run again on a fresh connection if PostgreSQL drops one: it
/// must be safe to repeat.
/// </summary>
public sealed class UserLocks(IDbContextFactory<AppDbContext> databases)
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 256).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>
    /// Runs <paramref name="work"/> holding the locks on the user keyed <paramref name="userKey"/>, with a context whose
    /// transaction (null where the provider has no lock, SQLite) holds the database's lock until the work commits it.
    /// </summary>
    public async Task<T> RunAsync<TState, T>(string userKey, TState state,
        Func<AppDbContext, IDbContextTransaction?, TState, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var gate = _stripes[(uint)StringComparer.Ordinal.GetHashCode(userKey) % (uint)_stripes.Length];
        await gate.WaitAsync(cancellationToken);
        try
        {
            await using var strategyContext = await databases.CreateDbContextAsync(cancellationToken);
            return await strategyContext.Database.CreateExecutionStrategy().ExecuteAsync(
                (userKey, state, work),
                async (_, s, token) =>
                {
                    await using var db = await databases.CreateDbContextAsync(token);
                    await using var transaction = await db.LockAsync(s.userKey, token);
                    return await s.work(db, transaction, s.state, token);
                },
                null,
                cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }
}
