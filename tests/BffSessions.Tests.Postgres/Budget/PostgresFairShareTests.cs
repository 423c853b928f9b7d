using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Data;
using BffSessions.Api.Payments.Budget;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace BffSessions.Tests.Budget;

/// <summary>
/// The shared schedule's SQL (stripe_book_share_turn) keeps the same fair shares as one instance's schedule: both
/// driven on one script of times, which the SQL takes in place of the database's clock.
/// </summary>
#pragma warning disable CA1001 // The server and the data source are disposed in IAsyncLifetime.DisposeAsync.
public sealed class PostgresFairShareTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private PostgresServer? _server;
    private NpgsqlDataSource? _database;

    public async Task InitializeAsync()
    {
        if (PostgresServer.BinDirectory is null)
        {
            return;
        }

        _server = await PostgresServer.StartAsync();
        var connection = _server.ConnectionString("fair_shares");
        await using (var db = new PostgresAppDbContext(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql(connection).Options))
        {
            await db.Database.MigrateAsync();
        }

        _database = NpgsqlDataSource.Create(connection);
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>
    /// 600 requests of 12 users at random moments (whole multiples of 50 ms: some a user's fifth second exactly, the edge
    /// of the active window), some of them a request's second call: every booking, refusal, share and wait the same.
    /// </summary>
    [SkippableFact]
    public async Task The_SQL_and_one_instances_schedule_decide_every_booking_alike()
    {
        PostgresServer.Require();
        var time = new FakeTimeProvider(Start);
        var schedule = new InMemoryCallSchedule(time);
        var script = new Random(20261208);
        var elapsed = TimeSpan.Zero;
        var differences = new List<string>();
        var seen = new HashSet<string>();

        for (var step = 0; step < 600; step++)
        {
            var advance = TimeSpan.FromMilliseconds(50 * script.Next(0, 6));
            elapsed += advance;
            time.Advance(advance);
            var user = $"user-{script.Next(12)}";
            var first = script.Next(5) > 0;

            var inMemory = schedule.Book(user, 4, TimeSpan.FromSeconds(1), first);
            var shared = await BookAsync(user, first, 4, elapsed);

            seen.Add($"{inMemory.Booked}/{inMemory.OverShare}");
            if (inMemory != shared)
            {
                differences.Add($"step {step} at {elapsed.TotalSeconds:0.00}s, {user}{(first ? "" : " (not first)")}: in memory {inMemory}, SQL {shared}");
            }
        }

        Assert.Empty(differences);
        Assert.True(seen.Count == 3, string.Join(", ", seen)); // booked, refused for want of a turn, refused over share: each was met
    }

    /// <summary>
    /// FairShareTests' rush of 150 users at three times the budget (<see cref="FairShareRush"/>), on the SQL: the client
    /// that obeys Retry-After is served within a few retries here too.
    /// </summary>
    [SkippableFact]
    public async Task A_client_that_obeys_Retry_After_is_served_within_a_few_retries_under_three_times_the_budget()
    {
        PostgresServer.Require();

        var (served, longestRun, why) = await FairShareRush.ObedientClientAsync((user, elapsed) => BookAsync(user, first: true, 5, elapsed));

        Assert.True(served >= 10, why);
        Assert.True(longestRun <= 2, why);
    }

    private async ValueTask<CallBooking> BookAsync(string user, bool first, double rate, TimeSpan elapsed)
    {
        await using var command = _database!.CreateCommand(
            "SELECT booked, over_share, wait_seconds FROM stripe_book_share_turn(@user, @first, @rate, 1, @hold, 0, @window, @max_share, @now)");
        command.Parameters.AddWithValue("user", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(user))));
        command.Parameters.AddWithValue("first", first);
        command.Parameters.AddWithValue("rate", rate);
        command.Parameters.AddWithValue("hold", StripePace.Hold.TotalSeconds);
        command.Parameters.AddWithValue("window", FairShares.ActiveWindow.TotalSeconds);
        command.Parameters.AddWithValue("max_share", FairShares.MaxShareInterval.TotalSeconds);
        command.Parameters.AddWithValue("now", Start + elapsed);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return new CallBooking(reader.GetBoolean(0), TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(2))), reader.GetBoolean(1));
    }
}
