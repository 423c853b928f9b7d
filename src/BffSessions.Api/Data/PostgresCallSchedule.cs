using System.Data.Common;
using BffSessions.Api.Payments;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BffSessions.Api.Data;

/// <summary>
/// The schedule of Stripe calls shared by every instance on one PostgreSQL: a single row holds the next free turn and
/// the pace, and each booking is one UPDATE of it (row-locked, so no two calls get one turn; first come, first
/// booked). Turns are measured on the database's clock, so instances' clocks need not agree.
/// <para>
/// When the database does not answer a booking within half a second, this instance keeps to its own share of the
/// budget for a second (the budget divided by the instances its heartbeat last saw) and then tries the database again.
/// The heartbeat (one row per instance, every second) exists only for that share.
/// </para>
/// </summary>
public sealed partial class PostgresCallSchedule : BackgroundService, IStripeCallSchedule
{
    private static readonly TimeSpan SharedTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan FallbackFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource _database;
    private readonly IOptions<StripeOptions> _stripe;
    private readonly TimeProvider _time;
    private readonly ILogger<PostgresCallSchedule> _logger;
    private readonly InMemoryCallSchedule _ownShare;
    private readonly Guid _instance = Guid.NewGuid();
    private double _pace = 1.0;
    private int _instances = 2; // until the heartbeat has counted: assume company
    private long _fallbackUntil = long.MinValue;

    public PostgresCallSchedule(IOptions<DatabaseOptions> database, IOptions<StripeOptions> stripe, TimeProvider time, ILogger<PostgresCallSchedule> logger)
    {
        // Its own small pool, so that budget bookings and the service's queries never wait for each other's
        // connections; and no wait for the disk on commit: a booking lost in a crash costs one turn, nothing more.
        var connection = new NpgsqlConnectionStringBuilder(database.Value.ConnectionString)
        {
            ApplicationName = "bffsessions-budget",
            MaxPoolSize = 8,
            Timeout = 2,
        };
        connection.Options = $"{connection.Options} -c synchronous_commit=off".Trim();
        _database = NpgsqlDataSource.Create(connection);
        _stripe = stripe;
        _time = time;
        _logger = logger;
        _ownShare = new InMemoryCallSchedule(time);
    }

    public double Pace => IsFallingBack ? _ownShare.Pace : Volatile.Read(ref _pace);

    public bool IsFallingBack => _time.GetTimestamp() < Interlocked.Read(ref _fallbackUntil);

    public async ValueTask<CallBooking> BookAsync(int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        if (!IsFallingBack)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(SharedTimeout);
                return await BookSharedAsync(callsPerSecond, maxWait, timeout.Token);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is DbException or OperationCanceledException or TimeoutException)
            {
                FallBack(e);
            }
        }

        return _ownShare.Book(callsPerSecond / (double)Math.Max(1, Volatile.Read(ref _instances)), maxWait);
    }

    public async ValueTask SlowDownAsync(CancellationToken cancellationToken)
    {
        await _ownShare.SlowDownAsync(cancellationToken);
        if (IsFallingBack)
        {
            return;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(SharedTimeout);
            await using var command = _database.CreateCommand(SlowDownSql);
            command.Parameters.AddWithValue("floor", StripePace.Floor);
            command.Parameters.AddWithValue("hold", StripePace.Hold.TotalSeconds);
            if (await command.ExecuteScalarAsync(timeout.Token) is double pace)
            {
                Volatile.Write(ref _pace, pace);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is DbException or OperationCanceledException or TimeoutException)
        {
            FallBack(e);
        }
    }

    private async Task<CallBooking> BookSharedAsync(int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand(BookSql);
        command.Parameters.AddWithValue("rate", (double)callsPerSecond);
        command.Parameters.AddWithValue("max_wait", maxWait.TotalSeconds);
        command.Parameters.AddWithValue("hold", StripePace.Hold.TotalSeconds);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("The stripe_call_schedule row is missing: apply the migrations (it is created by StripeCallBudget).");
        }

        var booking = new CallBooking(reader.GetBoolean(0), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(1))));
        Volatile.Write(ref _pace, reader.GetDouble(2));
        if (Interlocked.Exchange(ref _fallbackUntil, long.MinValue) != long.MinValue)
        {
            LogBackOnShared(_logger);
        }

        return booking;
    }

    private void FallBack(Exception e)
    {
        var until = _time.GetTimestamp() + (long)(FallbackFor.TotalSeconds * _time.TimestampFrequency);
        if (Interlocked.Exchange(ref _fallbackUntil, until) == long.MinValue)
        {
            LogFallingBack(_logger, Volatile.Read(ref _instances), e.GetBaseException().Message);
        }
    }

    /// <summary>One row per live instance, so that each knows its share should the database become unreachable.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_stripe.Value.RequestsPerSecond is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(HeartbeatEvery, _time);
        do
        {
            try
            {
                await using var command = _database.CreateCommand(HeartbeatSql);
                command.Parameters.AddWithValue("instance", _instance);
                if (await command.ExecuteScalarAsync(stoppingToken) is long instances)
                {
                    Volatile.Write(ref _instances, (int)Math.Max(1, instances));
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is DbException or TimeoutException)
            {
                LogHeartbeatFailed(_logger, e.GetBaseException().Message); // the booking path falls back on its own
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_stripe.Value.RequestsPerSecond is null)
        {
            return;
        }

        try
        {
            await using var command = _database.CreateCommand("DELETE FROM stripe_budget_instances WHERE instance_id = @instance");
            command.Parameters.AddWithValue("instance", _instance);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e) when (e is DbException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // Its row leaves the count after five seconds anyway.
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _database.Dispose();
    }

    // The pace now: cut_to, grown back by a tenth per second since a second after the cut (StripePace.At).
    private const string PaceNow =
        "least(1.0, s.cut_to + 0.1 * greatest(0.0, extract(epoch FROM c.now - s.cut_at)::float8 - @hold))";

    /// <summary>
    /// Books the next turn unless it is more than max_wait away. The UPDATE takes the row's lock; a booking that waited
    /// for it sees the row as the one before it left it. Returns (booked, seconds until the turn or until the
    /// schedule frees up, pace).
    /// </summary>
    private const string BookSql = $"""
        WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now),
        cur AS (
            SELECT s.next_at, c.now, {PaceNow} AS pace
            FROM stripe_call_schedule s, clock c
            WHERE s.id = 1),
        booked AS (
            UPDATE stripe_call_schedule s
            SET next_at = greatest(s.next_at, cur.now) + make_interval(secs => 1.0 / (@rate * cur.pace))
            FROM cur
            WHERE s.id = 1 AND s.next_at <= cur.now + make_interval(secs => @max_wait)
            RETURNING extract(epoch FROM s.next_at - cur.now)::float8 - 1.0 / (@rate * cur.pace) AS wait, cur.pace)
        SELECT true, wait, pace FROM booked
        UNION ALL
        SELECT false, extract(epoch FROM next_at - now)::float8, pace FROM cur WHERE NOT EXISTS (SELECT 1 FROM booked)
        """;

    /// <summary>Halves the pace, at most once a second for the whole deployment; returns the pace after it.</summary>
    private const string SlowDownSql = $"""
        WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS now)
        UPDATE stripe_call_schedule s
        SET cut_to = greatest(@floor, 0.5 * {PaceNow}), cut_at = c.now
        FROM clock c
        WHERE s.id = 1 AND s.cut_at < c.now - make_interval(secs => @hold)
        RETURNING s.cut_to
        """;

    /// <summary>Marks this instance alive, forgets instances gone for an hour, and counts those seen in five seconds.</summary>
    private const string HeartbeatSql = """
        WITH beat AS (
            INSERT INTO stripe_budget_instances (instance_id, seen_at) VALUES (@instance, clock_timestamp())
            ON CONFLICT (instance_id) DO UPDATE SET seen_at = EXCLUDED.seen_at),
        gone AS (
            DELETE FROM stripe_budget_instances WHERE seen_at < clock_timestamp() - interval '1 hour')
        SELECT 1 + count(*) FROM stripe_budget_instances
        WHERE instance_id <> @instance AND seen_at > clock_timestamp() - interval '5 seconds'
        """;

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning,
        Message = "The shared Stripe call schedule could not be reached ({Reason}): this instance keeps to 1/{Instances} of Stripe:RequestsPerSecond until it can")]
    private static partial void LogFallingBack(ILogger logger, int instances, string reason);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "The shared Stripe call schedule answers again")]
    private static partial void LogBackOnShared(ILogger logger);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Debug, Message = "The Stripe budget heartbeat failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);
}
