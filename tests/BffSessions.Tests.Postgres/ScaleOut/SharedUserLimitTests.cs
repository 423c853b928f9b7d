using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.CustomerSessions;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BffSessions.Tests.ScaleOut;

/// <summary>Two instances on one PostgreSQL, each user's bucket small (3) and slow to refill (one a minute).</summary>
public sealed class SharedUserLimitFixture : TwoInstancesOnPostgres
{
    protected override IDictionary<string, string?> Settings(PostgresServer database) => SharedUserLimit.Settings(database);
}

/// <summary>
/// A user's limit holds across instances that share PostgreSQL: alternating between two instances, or hitting both at
/// once, a user gets the burst once, not once per instance.
/// </summary>
public sealed class SharedUserLimitTests(SharedUserLimitFixture fixture) : IClassFixture<SharedUserLimitFixture>
{
    [SkippableFact]
    public async Task A_users_requests_alternating_between_two_instances_get_the_burst_once_then_429_with_Retry_After_from_either()
    {
        await StartAsync();
        var userId = "alternating-" + Guid.NewGuid().ToString("N");
        using var atA = fixture.A.CreateClientFor(userId);
        using var atB = fixture.B.CreateClientFor(userId);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await (i % 2 == 0 ? atA : atB).PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request));
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests], answers.Select(a => a.StatusCode));
        foreach (var refused in answers.Skip(3)) // from B, A, B
        {
            var problem = await HttpAssert.ProblemAsync(refused, HttpStatusCode.TooManyRequests);
            Assert.Equal(CommonProblems.RateLimited.Type, problem.GetProperty("type").GetString());
            // The next token is a minute away, on the database's clock, whichever instance says so.
            Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 50, 60);
        }

        var customerId = (await fixture.A.StoredLinkAsync(userId))!.Value.CustomerId;
        Assert.Equal(3, fixture.Stripe.RequestsTo("/v1/customer_sessions").Count(s => s.Form["customer"] == customerId));
        using var otherAtA = fixture.A.CreateClientFor("other-" + userId);
        using var otherAtB = fixture.B.CreateClientFor("other-" + userId);
        Assert.Equal(HttpStatusCode.OK, (await otherAtA.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await otherAtB.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        Assert.False(fixture.A.Services.GetRequiredService<SharedUserBuckets>().IsFallingBack);
        Assert.False(fixture.B.Services.GetRequiredService<SharedUserBuckets>().IsFallingBack);
    }

    /// <summary>The row lock, not the order of requests, holds the limit: twenty at once across both instances, three served.</summary>
    [SkippableFact]
    public async Task Twenty_requests_of_one_user_at_once_across_two_instances_get_exactly_the_burst()
    {
        await StartAsync();
        var userId = "rush-" + Guid.NewGuid().ToString("N");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var client = (i % 2 == 0 ? fixture.A : fixture.B).CreateClientFor(userId);
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request);
            return response.StatusCode;
        }));

        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(17, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
    }

    [SkippableFact]
    public async Task The_table_names_no_user_and_rows_idle_past_a_full_refill_are_deleted()
    {
        await StartAsync();
        var idleUser = "idle-" + Guid.NewGuid().ToString("N");
        var activeUser = "active-" + Guid.NewGuid().ToString("N");
        using var idle = fixture.A.CreateClientFor(idleUser);
        using var active = fixture.B.CreateClientFor(activeUser);
        Assert.Equal(HttpStatusCode.OK, (await idle.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await active.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        await using var db = new NpgsqlConnection(fixture.Database.ConnectionString("bffsessions"));
        await db.OpenAsync();

        var keys = await SharedUserLimit.KeysAsync(db);
        Assert.Contains(SharedUserLimit.KeyOf(idleUser), keys);
        Assert.Contains(SharedUserLimit.KeyOf(activeUser), keys);
        Assert.All(keys, key => Assert.Matches("^[0-9a-f]{64}$", key));
        Assert.DoesNotContain(keys, key => key.Contains(idleUser, StringComparison.Ordinal));

        // A full refill is 3 tokens at one a minute: the idle user's row is made four minutes old.
        await using (var age = new NpgsqlCommand("UPDATE user_rate_limits SET updated_at = updated_at - interval '4 minutes' WHERE user_key = @key", db))
        {
            age.Parameters.AddWithValue("key", SharedUserLimit.KeyOf(idleUser));
            Assert.Equal(1, await age.ExecuteNonQueryAsync());
        }

        var deleted = await fixture.B.Services.GetRequiredService<SharedUserBuckets>().DeleteIdleAsync(CancellationToken.None);

        Assert.Equal(1, deleted);
        keys = await SharedUserLimit.KeysAsync(db);
        Assert.DoesNotContain(SharedUserLimit.KeyOf(idleUser), keys);
        Assert.Contains(SharedUserLimit.KeyOf(activeUser), keys);
        // Gone means full: the idle user starts again with a full bucket, as they would have anyway.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await idle.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        }
    }

    private async Task StartAsync()
    {
        PostgresServer.Require();
        await fixture.EnsureStartedAsync();
    }
}

/// <summary>
/// The database stops under two instances and comes back: each instance limits the user on its own meanwhile, counted
/// from what it had served, with no 500; once the database answers again the limit is shared again.
/// </summary>
#pragma warning disable CA1001 // The server, stand-in and hosts are disposed in IAsyncLifetime.DisposeAsync.
public sealed class SharedUserLimitOutageTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private readonly LogCapture _logsOfA = new();
    private readonly LogCapture _logsOfB = new();
    private PostgresServer? _database;
    private StripeStandIn? _stripe;
    private ApiFactory? _a;
    private ApiFactory? _b;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var api in new[] { _a, _b })
        {
            if (api is not null)
            {
                await api.DisposeAsync();
            }
        }

        if (_stripe is not null)
        {
            await _stripe.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Assert.Empty(Secrets.FoundIn(_logsOfA.Lines.Concat(_logsOfB.Lines)));
    }

    [SkippableFact]
    public async Task With_the_database_down_each_instance_limits_on_its_own_without_500s_and_the_limit_is_shared_again_once_it_is_back()
    {
        PostgresServer.Require();
        _database = await PostgresServer.StartAsync();
        _stripe = await TestStripe.StartAsync();
        _a = new ApiFactory(_stripe, _logsOfA, settings: SharedUserLimit.Settings(_database));
        _b = new ApiFactory(_stripe, _logsOfB, settings: SharedUserLimit.Settings(_database));
        var userId = "outage-" + Guid.NewGuid().ToString("N");
        using var atA = _a.CreateClientFor(userId);
        using var atB = _b.CreateClientFor(userId);
        // Served once at each instance: the customer is cached at both (sessions need no database), and the shared
        // bucket has one token left, each instance's own two.
        Assert.Equal(HttpStatusCode.OK, (await atA.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await atB.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);

        await _database.StopServerAsync();

        var duringOutage = new List<(char Instance, HttpStatusCode Status, TimeSpan? RetryAfter)>();
        for (var i = 0; i < 3; i++)
        {
            foreach (var (instance, client) in new[] { ('A', atA), ('B', atB) })
            {
                using var response = await client.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request);
                duringOutage.Add((instance, response.StatusCode, response.Headers.RetryAfter?.Delta));
            }
        }

        // Four sessions where the shared bucket had one left: each instance's own bucket, as on SQLite.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            duringOutage.Where(a => a.Instance == 'A').Select(a => a.Status));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            duringOutage.Where(a => a.Instance == 'B').Select(a => a.Status));
        Assert.All(duringOutage.Where(a => a.Status == HttpStatusCode.TooManyRequests), a => Assert.NotNull(a.RetryAfter));
        Assert.True(_a.Services.GetRequiredService<SharedUserBuckets>().IsFallingBack);
        Assert.True(_b.Services.GetRequiredService<SharedUserBuckets>().IsFallingBack);

        await _database.StartServerAsync();

        // Each instance tries the database again a second after its last failure, on a request; any user's will do.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var probeStatuses = new List<HttpStatusCode>();
        using var probeAtA = _a.CreateClientFor("probe-" + userId);
        using var probeAtB = _b.CreateClientFor("probe-" + userId);
        while ((SharedUserLimit.IsFallingBack(_a) || SharedUserLimit.IsFallingBack(_b)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            foreach (var probe in new[] { probeAtA, probeAtB })
            {
                using var response = await probe.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request);
                probeStatuses.Add(response.StatusCode);
            }
        }

        Assert.False(SharedUserLimit.IsFallingBack(_a) || SharedUserLimit.IsFallingBack(_b), "still on their own buckets after 30 s");
        Assert.DoesNotContain(probeStatuses, s => (int)s >= 500 && s != HttpStatusCode.ServiceUnavailable);
        var newcomer = "after-outage-" + Guid.NewGuid().ToString("N");
        using var newcomerAtA = _a.CreateClientFor(newcomer);
        using var newcomerAtB = _b.CreateClientFor(newcomer);
        var afterwards = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await (i % 2 == 0 ? newcomerAtA : newcomerAtB).PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request);
            afterwards.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], afterwards);
        // One warning per instance for the whole outage, and one line when it is over.
        foreach (var logs in new[] { _logsOfA, _logsOfB })
        {
            Assert.Single(logs.Events, e => SharedUserLimit.EventIdOf(e) == 2401);
            Assert.Single(logs.Events, e => SharedUserLimit.EventIdOf(e) == 2403);
            Assert.DoesNotContain(logs.Events, e => SharedUserLimit.EventIdOf(e) == 2402);
        }
    }

    /// <summary>
    /// A database that hangs rather than refuses (a paused host, a half-open connection): a request waits for it only
    /// the limiter's half second, not Npgsql's timeouts (3 s when the limiter relied on them), and the user is limited by
    /// this instance meanwhile.
    /// </summary>
    [SkippableFact]
    public async Task A_database_that_hangs_holds_a_request_only_half_a_second_and_the_instance_limits_on_its_own()
    {
        PostgresServer.Require();
        _database = await PostgresServer.StartAsync();
        _stripe = await TestStripe.StartAsync();
        _a = new ApiFactory(_stripe, _logsOfA, settings: SharedUserLimit.Settings(_database));
        using var client = _a.CreateClientFor("hung-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request)).StatusCode);

        await _database.PauseServerAsync();
        var statuses = new List<HttpStatusCode>();
        var slowest = TimeSpan.Zero;
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsJsonAsync("/api/customer-sessions", SharedUserLimit.Request);
                slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
                statuses.Add(response.StatusCode);
            }
        }
        finally
        {
            await _database.ResumeServerAsync();
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.True(slowest < TimeSpan.FromSeconds(1.5), // half a second, with room for a busy machine
            $"a request waited {slowest.TotalMilliseconds:0} ms for a database that hangs");
        Assert.True(SharedUserLimit.IsFallingBack(_a));
        var warning = Assert.Single(_logsOfA.Events, e => SharedUserLimit.EventIdOf(e) == 2401);
        Assert.Contains("timed out", warning.RenderMessage(), StringComparison.OrdinalIgnoreCase);
    }
}

internal static class SharedUserLimit
{
    public static readonly object Request = new { components = new { pricingTable = new { enabled = true } } };

    public static Dictionary<string, string?> Settings(PostgresServer database) => new()
    {
        ["Database:Provider"] = "Postgres",
        ["ConnectionStrings:Customers"] = database.ConnectionString("bffsessions"),
        ["RateLimiting:PerUserBurst"] = "3",
        ["RateLimiting:PerUserPerMinute"] = "1",
    };

    /// <summary>The row key of a bearer user of the tests' issuer: SHA-256 hex of the limiter's partition key.</summary>
    public static string KeyOf(string userId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("user:" + ApiFactory.Issuer + "\n" + userId)));

    public static async Task<List<string>> KeysAsync(NpgsqlConnection db)
    {
        await using var command = new NpgsqlCommand("SELECT user_key FROM user_rate_limits", db);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    public static bool IsFallingBack(ApiFactory api) => api.Services.GetRequiredService<SharedUserBuckets>().IsFallingBack;

    public static int? EventIdOf(Serilog.Events.LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is Serilog.Events.StructureValue structure
            && structure.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is Serilog.Events.ScalarValue { Value: int value }
            ? value
            : null;
}
