using BffSessions.Api.Data;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BffSessions.Api.CustomerSessions;

/// <summary>What the shared bucket said: a token, or how long until the next one.</summary>
internal readonly record struct SharedTake(bool Granted, TimeSpan RetryAfter);

/// <summary>
/// Each user's token bucket, kept in PostgreSQL for every instance that shares it, so that N instances give a user the
/// limit once, not N times. A take is one statement, <c>take_user_token</c> (migration SharedUserRateLimits), which
/// locks the user's row and refills it on the database's clock.
/// <para>
/// When the database does not answer within half a second (an outage, a pause), the limiter falls back to this
/// instance's own bucket for the user (<see cref="SharedUserLimiter"/>): no request waits longer, none fails for it. The
/// database is tried again a second later, one request at a time. In the background, rows idle for longer than a
/// full refill are deleted: they say nothing a missing row does not.
/// </para>
/// </summary>
public sealed partial class SharedUserBuckets : BackgroundService
{
    private static readonly TimeSpan SharedTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan FallbackFor = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan CleanupEvery = TimeSpan.FromMinutes(5);
    private const int CleanupBatch = 1000;

    private readonly NpgsqlDataSource _database;
    private readonly double _capacity;
    private readonly double _perSecond;
    private readonly ILogger<SharedUserBuckets> _logger;
    private int _fallingBack;
    private long _retryAt;
    private int _probing;

    public SharedUserBuckets(IOptions<DatabaseOptions> database, IOptions<RateLimitingOptions> limits, TimeProvider time, ILogger<SharedUserBuckets> logger)
    {
        // Its own small pool with short timeouts, so that a take never waits behind the service's queries, and a
        // command abandoned after SharedTimeout is cut by Npgsql soon after.
        _database = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(database.Value.ConnectionString)
        {
            ApplicationName = "bffsessions-user-limits",
            MaxPoolSize = 16,
            Timeout = 1,
            CommandTimeout = 1,
        }.ConnectionString).Build();
        _capacity = limits.Value.PerUserBurst;
        _perSecond = limits.Value.PerUserPerMinute / 60.0;
        Time = time;
        _logger = logger;
    }

    internal TimeProvider Time { get; }

    /// <summary>Whether this instance is on its own buckets because the database did not answer.</summary>
    public bool IsFallingBack => Volatile.Read(ref _fallingBack) == 1;

    /// <summary>A token from the user's shared bucket, a refusal, or null when the database did not answer in time.</summary>
    internal async ValueTask<SharedTake?> TryTakeAsync(string keyHash, CancellationToken cancellationToken)
    {
        if (!ShouldAskTheDatabase(out var probing))
        {
            return null;
        }

        try
        {
            // WaitAsync, not only the command's timeout: a database that hangs (paused, a half-open connection) may keep
            // a command for longer. Should the abandoned take still go through, the user loses one token.
            var take = await TakeAsync(keyHash, cancellationToken).WaitAsync(SharedTimeout, Time, cancellationToken);
            if (probing)
            {
                Answered();
            }

            return take;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever went wrong, the request is limited by this instance instead: never a 500 for the limiter.
            FallBack(e);
            return null;
        }
        finally
        {
            if (probing)
            {
                Volatile.Write(ref _probing, 0);
            }
        }
    }

    private async Task<SharedTake> TakeAsync(string keyHash, CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("SELECT granted, retry_after_seconds FROM take_user_token(@key, @capacity, @per_second)");
        command.Parameters.AddWithValue("key", keyHash);
        command.Parameters.AddWithValue("capacity", _capacity);
        command.Parameters.AddWithValue("per_second", _perSecond);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("take_user_token answered nothing.");
        }

        return new SharedTake(reader.GetBoolean(0), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(1))));
    }

    /// <summary>Always while the database answers; while falling back, one request at a time once a second.</summary>
    private bool ShouldAskTheDatabase(out bool probing)
    {
        probing = false;
        if (Volatile.Read(ref _fallingBack) == 0)
        {
            return true;
        }

        probing = Time.GetTimestamp() >= Interlocked.Read(ref _retryAt) && Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
        return probing;
    }

    /// <summary>
    /// A probe got through: back on the shared buckets. Only a probe ends an outage, not a take that set out before it
    /// began and came back late.
    /// </summary>
    private void Answered()
    {
        if (Interlocked.Exchange(ref _fallingBack, 0) == 1)
        {
            LogBackOnShared(_logger);
        }
    }

    private void FallBack(Exception e)
    {
        Interlocked.Exchange(ref _retryAt, Time.GetTimestamp() + (long)(FallbackFor.TotalSeconds * Time.TimestampFrequency));
        // Pooled connections the outage cut would each fail once more; the next try starts on a fresh one.
        _database.Clear();
        if (Interlocked.Exchange(ref _fallingBack, 1) == 1)
        {
            return; // once per outage
        }

        if (e is NpgsqlException { IsTransient: true } or TimeoutException or OperationCanceledException)
        {
            LogFallingBack(_logger, e.GetBaseException().Message);
        }
        else
        {
            LogBroken(_logger, e.GetBaseException().Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CleanupEvery, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                using var unobserved = Telemetry.Unobserved();
                await DeleteIdleAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogCleanupFailed(_logger, e.GetBaseException().Message);
            }
        }
    }

    /// <summary>
    /// Deletes the rows of users idle for longer than a full refill, in batches; rows a take holds are skipped (and no
    /// longer idle). Every instance runs it: deleting twice is harmless. Returns how many rows were deleted.
    /// </summary>
    public async Task<int> DeleteIdleAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            await using var command = _database.CreateCommand("""
                DELETE FROM user_rate_limits WHERE user_key IN (
                    SELECT user_key FROM user_rate_limits WHERE updated_at < clock_timestamp() - make_interval(secs => @idle)
                    LIMIT @batch FOR UPDATE SKIP LOCKED)
                """);
            command.Parameters.AddWithValue("idle", _capacity / _perSecond);
            command.Parameters.AddWithValue("batch", CleanupBatch);
            deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
        }
        while (deleted == CleanupBatch);

        if (total > 0)
        {
            LogDeletedIdle(_logger, total);
        }

        return total;
    }

    public override void Dispose()
    {
        base.Dispose();
        _database.Dispose();
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning,
        Message = "The shared per-user rate limits could not be reached ({Reason}): each instance limits users on its own until they can")]
    private static partial void LogFallingBack(ILogger logger, string reason);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Error,
        Message = "The shared per-user rate limits failed, and not for an outage ({Reason}): are the migrations in? Each instance limits users on its own meanwhile")]
    private static partial void LogBroken(ILogger logger, string reason);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Information, Message = "The shared per-user rate limits answer again")]
    private static partial void LogBackOnShared(ILogger logger);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Debug, Message = "Deleted {Count} idle per-user rate limit row(s)")]
    private static partial void LogDeletedIdle(ILogger logger, int count);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Warning, Message = "Could not delete idle per-user rate limit rows (tried again later): {Reason}")]
    private static partial void LogCleanupFailed(ILogger logger, string reason);
}
