using System.Net;
using BffSessions.Api.Data;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// On PostgreSQL a failed write reaches the session store wrapped by EF Core's retry strategy: a renewal that the
/// database refuses must still cost the user nothing, as on SQLite (SessionTests).
/// </summary>
public sealed class PostgresSessionRenewalTests : StandInTest
{
    private PostgresServer? _database;

    [SkippableFact]
    public async Task A_renewal_PostgreSQL_refuses_after_its_retries_costs_the_user_nothing()
    {
        PostgresServer.Require();
        _database = await PostgresServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var spy = new DbCommandSpy { Failure = () => new NpgsqlException("the connection was lost", new TimeoutException()) };
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:Customers"] = _database.ConnectionString("bffsessions"),
            ["Bff:SessionIdleTimeout"] = "00:01:00",
        }, services => services.AddSingleton<TimeProvider>(time).ConfigureDbContext<PostgresAppDbContext>(db => db.AddInterceptors(spy)));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "postgres-renewal-user")).Dispose();

        time.Advance(TimeSpan.FromSeconds(40));
        spy.Fail = sql => sql.StartsWith("UPDATE browser_sessions", StringComparison.Ordinal);
        using var whileFailing = await BffRequests.GetUserAsync(browser);
        using var session = await BffRequests.PostSessionAsync(browser);
        spy.Fail = null;

        Assert.Equal(HttpStatusCode.OK, whileFailing.StatusCode);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        Assert.True(spy.Commands.Count(sql => sql.StartsWith("UPDATE browser_sessions", StringComparison.Ordinal)) >= 2, "the strategy retried");
        Assert.Contains(Logs.Lines, l => l.Contains("Could not renew a browser session", StringComparison.Ordinal));
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
