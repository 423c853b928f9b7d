using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Data;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// The schedule of Stripe calls shared by every instance on one PostgreSQL: a single row holds the next free turn and
/// the pace, and each booking is one call of <c>stripe_book_share_turn</c> (migration FairShareRetries), which locks the
/// row and keeps the users' fair shares (<see cref="FairShares"/>, the same rule as <see cref="InMemoryCallSchedule"/>)
/// in <c>stripe_budget_users</c>: no two calls get one turn, the first to ask is the first booked, and turns are
/// measured on the database's clock, so instances' clocks need not agree.
/// <para>
/// When the database does not answer a booking within half a second, this instance keeps to its own share of the
/// budget (the budget divided by the instances its heartbeat last counted) and tries the database again a second
/// later, one request at a time. Its own schedule starts <see cref="StripeOptions.BudgetWait"/> ahead, since turns
/// booked in the database before may still be going out until then; coming back, it keeps the shared schedule free
/// for a second plus one BudgetWait, while its own calls and those of instances still on their own shares go out.
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
    private readonly Lock _lock = new();
    private double _cutTo = 1.0;
    private long _cutAt = long.MinValue;
    private int _instances = 2; // until the heartbeat has counted: assume company
    private bool _fallingBack;
    private long _retryAt;
    private int _probing;

    public PostgresCallSchedule(IOptions<DatabaseOptions> database, IOptions<StripeOptions> stripe, TimeProvider time, ILogger<PostgresCallSchedule> logger)
    {
        // Its own small pool, so that bookings and the service's queries never wait for each other's connections.
        var connection = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(database.Value.ConnectionString)
        {
            ApplicationName = "bffsessions-budget",
            MaxPoolSize = 8,
            Timeout = 2,
        }.ConnectionString);
        _database = connection.Build();
        _stripe = stripe;
        _time = time;
        _logger = logger;
        _ownShare = new InMemoryCallSchedule(time);
    }

    public double Pace
    {
        get
        {
            lock (_lock)
            {
                return _fallingBack ? _ownShare.Pace
                    : _cutAt == long.MinValue ? 1.0
                    : StripePace.At(_cutTo, _time.GetElapsedTime(_cutAt));
            }
        }
    }

    public double Share
    {
        get
        {
            lock (_lock)
            {
                return _fallingBack ? 1.0 / Math.Max(1, _instances) : 1.0;
            }
        }
    }

    public bool IsFallingBack
    {
        get
        {
            lock (_lock)
            {
                return _fallingBack;
            }
        }
    }

    public async ValueTask<CallBooking> BookAsync(string user, bool firstOfRequest, int callsPerSecond, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        if (ShouldAskTheDatabase(out var returning))
        {
            try
            {
                // WaitAsync, not only the token: a database that hangs (paused, a half-open connection) may not honour
                // a cancellation for seconds. The abandoned booking, should it complete, costs one turn.
                return await BookSharedAsync(user, firstOfRequest, callsPerSecond, maxWait, returning, cancellationToken).WaitAsync(SharedTimeout, _time, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is DbException or OperationCanceledException or TimeoutException or InvalidOperationException)
            {
                FallBack(e);
            }
            finally
            {
                Volatile.Write(ref _probing, 0);
            }
        }

        return _ownShare.Book(user, callsPerSecond / (double)Math.Max(1, Volatile.Read(ref _instances)), maxWait, firstOfRequest);
    }

    private async Task<CallBooking> BookSharedAsync(string user, bool firstOfRequest, int callsPerSecond, TimeSpan maxWait, bool returning, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SharedTimeout);
        await using var command = _database.CreateCommand(
            "SELECT booked, over_share, wait_seconds, cut_to, cut_age_seconds FROM stripe_book_share_turn(@user, @first, @rate, @max_wait, @hold, @min_wait, @active_window, @max_share)");
        command.Parameters.AddWithValue("first", firstOfRequest);
        // The user's fair share is kept by a hash of their key: the table holds no user ids, and every key is 64 characters.
        command.Parameters.AddWithValue("user", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(user))));
        command.Parameters.AddWithValue("active_window", FairShares.ActiveWindow.TotalSeconds);
        command.Parameters.AddWithValue("max_share", FairShares.MaxShareInterval.TotalSeconds);
        command.Parameters.AddWithValue("rate", (double)callsPerSecond);
        command.Parameters.AddWithValue("max_wait", maxWait.TotalSeconds);
        command.Parameters.AddWithValue("hold", StripePace.Hold.TotalSeconds);
        // Back from its own share: the calls it booked on its own go out within one BudgetWait, and other instances
        // may keep to theirs until their next try, a second later. No shared turn for anyone before that.
        command.Parameters.AddWithValue("min_wait", returning ? (FallbackFor + _stripe.Value.BudgetWait).TotalSeconds : 0.0);
        await using var reader = await command.ExecuteReaderAsync(timeout.Token);
        if (!await reader.ReadAsync(timeout.Token))
        {
            throw new InvalidOperationException("stripe_book_share_turn answered nothing: the stripe_call_schedule row is missing.");
        }

        var booking = new CallBooking(reader.GetBoolean(0), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(2))), OverShare: reader.GetBoolean(1));
        Answered(reader.GetDouble(3), reader.GetDouble(4));
        return booking;
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
            await SlowDownSharedAsync(cancellationToken).WaitAsync(SharedTimeout, _time, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is DbException or OperationCanceledException or TimeoutException)
        {
            FallBack(e);
        }
    }

    private async Task SlowDownSharedAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SharedTimeout);
        await using var command = _database.CreateCommand("SELECT cut_to, cut_age_seconds FROM stripe_slow_down(@floor, @hold)");
        command.Parameters.AddWithValue("floor", StripePace.Floor);
        command.Parameters.AddWithValue("hold", StripePace.Hold.TotalSeconds);
        await using var reader = await command.ExecuteReaderAsync(timeout.Token);
        if (await reader.ReadAsync(timeout.Token))
        {
            Answered(reader.GetDouble(0), reader.GetDouble(1));
        }
    }

    /// <summary>
    /// Whether this booking goes to the database: always when it answers; while falling back, one request at a time
    /// once a second (<paramref name="returning"/> then).
    /// </summary>
    private bool ShouldAskTheDatabase(out bool returning)
    {
        lock (_lock)
        {
            returning = _fallingBack;
            if (!_fallingBack)
            {
                return true;
            }
        }

        return _time.GetTimestamp() >= Interlocked.Read(ref _retryAt) && Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
    }

    /// <summary>The database answered: the pace as it is there, and back on the shared schedule.</summary>
    private void Answered(double cutTo, double cutAgeSeconds)
    {
        bool wasFallingBack;
        lock (_lock)
        {
            _cutTo = cutTo;
            _cutAt = _time.GetTimestamp() - (long)(cutAgeSeconds * _time.TimestampFrequency);
            wasFallingBack = _fallingBack;
            _fallingBack = false;
        }

        if (wasFallingBack)
        {
            LogBackOnShared(_logger);
        }
    }

    private void FallBack(Exception e)
    {
        bool entering;
        lock (_lock)
        {
            entering = !_fallingBack;
            _fallingBack = true;
        }

        Interlocked.Exchange(ref _retryAt, _time.GetTimestamp() + (long)(FallbackFor.TotalSeconds * _time.TimestampFrequency));
        if (!entering)
        {
            return;
        }

        // Turns already booked in the database may still be going out for one BudgetWait: none of our own before then.
        _ownShare.KeepFree(_stripe.Value.BudgetWait);
        var instances = Volatile.Read(ref _instances);
        if (e is NpgsqlException { IsTransient: true } or OperationCanceledException or TimeoutException)
        {
            LogFallingBack(_logger, instances, e.GetBaseException().Message);
        }
        else
        {
            LogScheduleBroken(_logger, instances, e.GetBaseException().Message);
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
                using var unobserved = Telemetry.Unobserved(); // a trace a second otherwise
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

    /// <summary>Marks this instance alive, forgets instances and users gone for an hour, and counts the instances seen in five seconds.</summary>
    private const string HeartbeatSql = """
        WITH beat AS (
            INSERT INTO stripe_budget_instances (instance_id, seen_at) VALUES (@instance, clock_timestamp())
            ON CONFLICT (instance_id) DO UPDATE SET seen_at = EXCLUDED.seen_at),
        gone AS (
            DELETE FROM stripe_budget_instances WHERE seen_at < clock_timestamp() - interval '1 hour'),
        quiet AS (
            DELETE FROM stripe_budget_users WHERE seen_at < clock_timestamp() - interval '1 hour')
        SELECT 1 + count(*) FROM stripe_budget_instances
        WHERE instance_id <> @instance AND seen_at > clock_timestamp() - interval '5 seconds'
        """;

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning,
        Message = "The shared Stripe call schedule could not be reached ({Reason}): this instance keeps to 1/{Instances} of Stripe:RequestsPerSecond until it can")]
    private static partial void LogFallingBack(ILogger logger, int instances, string reason);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Error,
        Message = "The shared Stripe call schedule failed, and not for an outage ({Reason}): are the migrations in? This instance keeps to 1/{Instances} of Stripe:RequestsPerSecond meanwhile")]
    private static partial void LogScheduleBroken(ILogger logger, int instances, string reason);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "The shared Stripe call schedule answers again")]
    private static partial void LogBackOnShared(ILogger logger);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Debug, Message = "The Stripe budget heartbeat failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);
}
