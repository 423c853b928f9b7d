using System.Net;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests;

/// <summary>Browser sessions live server-side: a logout ends every copy of the cookie, and no session outlives its lifetime.</summary>
public sealed class SessionTests : StandInTest
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-sessions-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task Logging_out_ends_every_copy_of_the_cookie_at_once()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        using var browser = api.CreateApiClient();
        using var signIn = await BffRequests.SignInAsync(browser, "copied-user");
        var stolen = BffRequests.SessionCookieOf(signIn);
        using var thief = api.CreateApiClient();
        using var before = await BffRequests.GetUserAsync(thief, stolen);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(1, await SessionRowsAsync(api));

        using var logout = await browser.SendAsync(BffRequests.WithCsrf(HttpMethod.Post, "/bff/logout"));

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        using var user = await BffRequests.GetUserAsync(thief, stolen);
        using var session = await BffRequests.PostSessionAsync(thief, stolen);
        await HttpAssert.ProblemAsync(user, HttpStatusCode.Unauthorized);
        await HttpAssert.ProblemAsync(session, HttpStatusCode.Unauthorized);
        Assert.Equal(0, await SessionRowsAsync(api));
    }

    [Fact]
    public async Task The_cookie_holds_only_a_key_and_the_session_row_only_a_hash_of_it()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        using var browser = api.CreateApiClient();
        using var signIn = await BffRequests.SignInAsync(browser, "small-cookie-user", email: "small@example.com");

        var cookie = BffRequests.SessionCookieOf(signIn);
        await using var db = await DatabaseOf(api).CreateDbContextAsync();
        var row = await db.BrowserSessions.SingleAsync();
        Assert.True(cookie.Length < 400, $"the cookie is {cookie.Length} characters: more than a session key");
        Assert.Equal((DevSignIn.Issuer, "small-cookie-user"), (row.Issuer, row.Subject));
        Assert.Matches("^[0-9a-f]{64}$", row.KeyHash);
        Assert.DoesNotContain("small@example.com", System.Text.Encoding.UTF8.GetString(row.Ticket), StringComparison.Ordinal); // encrypted
    }

    /// <summary>Used every 30 seconds, a session with a one-minute idle timeout slides on, but never past its lifetime.</summary>
    [Fact]
    public async Task A_session_used_all_the_time_still_ends_at_its_lifetime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Bff:SessionIdleTimeout"] = "00:01:00",
            ["Bff:SessionLifetime"] = "00:03:00",
        }, services => services.AddSingleton<TimeProvider>(time));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "busy-user")).Dispose();

        var seen = new List<(int Second, HttpStatusCode Status)>();
        for (var second = 30; second <= 210; second += 30)
        {
            time.Advance(TimeSpan.FromSeconds(30));
            using var user = await BffRequests.GetUserAsync(browser);
            seen.Add((second, user.StatusCode));
        }

        Assert.Equal(
            [(30, HttpStatusCode.OK), (60, HttpStatusCode.OK), (90, HttpStatusCode.OK), (120, HttpStatusCode.OK), (150, HttpStatusCode.OK),
                (180, HttpStatusCode.Unauthorized), (210, HttpStatusCode.Unauthorized)],
            seen);
    }

    [Fact]
    public async Task One_minute_for_both_is_valid_and_an_unused_session_ends_after_its_idle_timeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Bff:SessionIdleTimeout"] = "00:01:00",
            ["Bff:SessionLifetime"] = "00:01:00",
        }, services => services.AddSingleton<TimeProvider>(time));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "idle-user")).Dispose();

        time.Advance(TimeSpan.FromSeconds(50));
        using var beforeTheMinute = await BffRequests.GetUserAsync(browser);
        time.Advance(TimeSpan.FromSeconds(11));
        using var afterTheMinute = await BffRequests.GetUserAsync(browser);

        Assert.Equal(HttpStatusCode.OK, beforeTheMinute.StatusCode);
        Assert.InRange((await BffRequests.ClaimsAsync(beforeTheMinute))["bff:session_expires_in"].GetInt64(), 0, 10);
        await HttpAssert.ProblemAsync(afterTheMinute, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Expired_sessions_are_deleted_in_bounded_batches_and_live_ones_are_kept()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The background pass would run on its own as the clock jumps two hours; a day's interval leaves this pass to the test.
        await using var api = new ApiFactory(Stripe, Logs, "Development",
            new Dictionary<string, string?> { ["Bff:SessionCleanupBatch"] = "2", ["Bff:SessionCleanupInterval"] = "1.00:00:00" },
            services => services.AddSingleton<TimeProvider>(time));
        for (var i = 0; i < 5; i++)
        {
            using var browser = api.CreateApiClient();
            (await BffRequests.SignInAsync(browser, $"expiring-user-{i}")).Dispose();
        }

        time.Advance(TimeSpan.FromHours(2));
        using var live = api.CreateApiClient();
        (await BffRequests.SignInAsync(live, "live-user")).Dispose();
        var cleanup = api.Services.GetServices<IHostedService>().OfType<ExpiredSessionCleanup>().Single();

        var deleted = await cleanup.DeleteExpiredAsync(CancellationToken.None);

        Assert.Equal(5, deleted);
        await using var db = await DatabaseOf(api).CreateDbContextAsync();
        Assert.Equal("live-user", (await db.BrowserSessions.SingleAsync()).Subject);
        using var stillIn = await BffRequests.GetUserAsync(live);
        Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
    }

    [Fact]
    public async Task The_cleanup_runs_in_the_background_every_interval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?> { ["Bff:SessionCleanupInterval"] = "00:10:00" },
            services => services.AddSingleton<TimeProvider>(time));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "forgotten-user")).Dispose();
        Assert.Equal(1, await SessionRowsAsync(api));

        time.Advance(TimeSpan.FromHours(2));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await SessionRowsAsync(api) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, await SessionRowsAsync(api));
        Assert.Contains(Logs.Lines, l => l.Contains("Deleted 1 expired browser session(s)", StringComparison.Ordinal));
    }

    /// <summary>The local sign-in form is for Development: its cookie is worth nothing to an instance elsewhere, even one sharing the database and keys.</summary>
    [Fact]
    public async Task A_cookie_from_the_Development_sign_in_is_refused_by_a_Production_instance_sharing_the_database()
    {
        var shared = new Dictionary<string, string?> { ["ConnectionStrings:Customers"] = $"Data Source={_database}" };
        await using var development = new ApiFactory(Stripe, Logs, "Development", shared);
        await using var production = new ApiFactory(Stripe, Logs, "Production", shared);
        using var browser = development.CreateApiClient();
        using var signIn = await BffRequests.SignInAsync(browser, "developer");
        var cookie = BffRequests.SessionCookieOf(signIn);

        using var inDevelopment = await BffRequests.GetUserAsync(development.CreateApiClient(), cookie);
        using var inProduction = await BffRequests.GetUserAsync(production.CreateApiClient(), cookie);
        using var apiInProduction = await BffRequests.PostSessionAsync(production.CreateApiClient(), cookie);

        Assert.Equal(HttpStatusCode.OK, inDevelopment.StatusCode);
        await HttpAssert.ProblemAsync(inProduction, HttpStatusCode.Unauthorized);
        await HttpAssert.ProblemAsync(apiInProduction, HttpStatusCode.Unauthorized);
        Assert.Empty(Stripe.Requests);
    }

    /// <summary>
    /// Kestrel, unlike the test server, refuses non-ASCII in a Location header with an exception: on the real server a
    /// non-ASCII returnUrl is a 400 problem at sign-in and at logout, and the logout does not half-happen.
    /// </summary>
    [Fact]
    public async Task A_non_ASCII_returnUrl_is_a_400_problem_on_the_real_server()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        var port = FreePort();
        api.UseKestrel(port);
        api.StartServer();
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://localhost:{port}") };
        using var signIn = await BffRequests.SignInAsync(client, "unicode-user");
        var cookie = BffRequests.SessionCookieOf(signIn);
        using var claims = await BffRequests.GetUserAsync(client, cookie);
        var logoutUrl = (await BffRequests.ClaimsAsync(claims))["bff:logout_url"].GetString();

        using var badSignIn = await BffRequests.SignInAsync(client, "unicode-user", returnUrl: "/café");
        using var badLogout = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"{logoutUrl}&returnUrl={Uri.EscapeDataString("/café")}")
        {
            Headers = { { "Cookie", cookie } },
        });

        await HttpAssert.ProblemAsync(badSignIn, HttpStatusCode.BadRequest);
        await HttpAssert.ProblemAsync(badLogout, HttpStatusCode.BadRequest);
        using var stillIn = await BffRequests.GetUserAsync(client, cookie);
        Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
    }

    private static IDbContextFactory<AppDbContext> DatabaseOf(ApiFactory api) => api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();

    private static async Task<int> SessionRowsAsync(ApiFactory api)
    {
        await using var db = await DatabaseOf(api).CreateDbContextAsync();
        return await db.BrowserSessions.CountAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_database);
    }
}
