using System.Net;
using System.Net.Http.Json;
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

    /// <summary>
    /// Used every 40 seconds (the second half of a one-minute idle window, so each use renews), a session slides on but
    /// never past its three-minute lifetime; once its expiry has reached that end, uses stop writing renewals.
    /// </summary>
    [Fact]
    public async Task A_session_used_all_the_time_still_ends_at_its_lifetime()
    {
        // A whole second: the cookie's times are kept to the second, and a fraction must not decide the outcome.
        var start = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var time = new FakeTimeProvider(start);
        var database = new DbCommandSpy();
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?>
        {
            ["Bff:SessionIdleTimeout"] = "00:01:00",
            ["Bff:SessionLifetime"] = "00:03:00",
        }, services => services.AddSingleton<TimeProvider>(time).ConfigureDbContext<SqliteAppDbContext>(db => db.AddInterceptors(database)));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "busy-user")).Dispose();

        var seen = new List<(int Second, HttpStatusCode Status)>();
        var renewedAt = new List<int>();
        foreach (var second in new[] { 40, 80, 120, 160, 170, 179, 181, 200 })
        {
            time.SetUtcNow(start.AddSeconds(second));
            var renewals = database.Commands.Count(IsRenewal);
            using var user = await BffRequests.GetUserAsync(browser);
            seen.Add((second, user.StatusCode));
            if (database.Commands.Count(IsRenewal) > renewals)
            {
                renewedAt.Add(second);
            }
        }

        Assert.Equal(
            [(40, HttpStatusCode.OK), (80, HttpStatusCode.OK), (120, HttpStatusCode.OK), (160, HttpStatusCode.OK), (170, HttpStatusCode.OK),
                (179, HttpStatusCode.OK), (181, HttpStatusCode.Unauthorized), (200, HttpStatusCode.Unauthorized)],
            seen);
        Assert.Equal([40, 80, 120], renewedAt); // at 120 the expiry reached 180 s, the lifetime's end
    }

    /// <summary>
    /// Signing in again (another user at a shared computer, or the same one) starts a new session: a copy of the old
    /// cookie, planted or left behind, does not become the new session.
    /// </summary>
    [Fact]
    public async Task Signing_in_over_a_live_session_starts_a_new_one_and_ends_the_old_cookie()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        using var browser = api.CreateApiClient();
        using var first = await BffRequests.SignInAsync(browser, "first-user");
        var old = BffRequests.SessionCookieOf(first);

        using var second = await BffRequests.SignInAsync(browser, "second-user"); // the browser sends the old cookie along

        using var withOld = await BffRequests.GetUserAsync(api.CreateApiClient(), old);
        using var withNew = await BffRequests.GetUserAsync(api.CreateApiClient(), BffRequests.SessionCookieOf(second));
        await HttpAssert.ProblemAsync(withOld, HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, withNew.StatusCode);
        Assert.Equal("second-user", (await BffRequests.ClaimsAsync(withNew))["sub"].GetString());
        await using var db = await DatabaseOf(api).CreateDbContextAsync();
        Assert.Equal("second-user", (await db.BrowserSessions.SingleAsync()).Subject);
    }

    /// <summary>
    /// A sliding renewal is written as the response starts. When the database refuses the write then (another writer
    /// holds the lock), the response still goes out whole, and the session keeps the expiry it had.
    /// </summary>
    [Fact]
    public async Task A_renewal_the_database_refuses_costs_the_user_nothing()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var database = new DbCommandSpy();
        await using var api = new ApiFactory(Stripe, Logs, "Development", new Dictionary<string, string?> { ["Bff:SessionIdleTimeout"] = "00:01:00" },
            services => services.AddSingleton<TimeProvider>(time).ConfigureDbContext<SqliteAppDbContext>(db => db.AddInterceptors(database)));
        using var browser = api.CreateApiClient();
        (await BffRequests.SignInAsync(browser, "locked-out-user")).Dispose();

        time.Advance(TimeSpan.FromSeconds(40));
        database.Fail = IsRenewal;
        using var whileLocked = await BffRequests.GetUserAsync(browser);
        database.Fail = null;
        time.Advance(TimeSpan.FromSeconds(15)); // 55 s after sign-in: alive on the expiry it had
        using var afterwards = await BffRequests.GetUserAsync(browser);

        Assert.Equal(HttpStatusCode.OK, whileLocked.StatusCode);
        Assert.Contains("locked-out-user", await whileLocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(Logs.Lines, l => l.Contains("Could not renew a browser session", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }

    /// <summary>Customers:CacheSize=0 keeps no user in memory: each session reads the map, and still costs one Stripe call.</summary>
    [Fact]
    public async Task Without_the_customer_cache_each_session_reads_the_map()
    {
        var database = new DbCommandSpy();
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Customers:CacheSize"] = "0" },
            services: services => services.ConfigureDbContext<SqliteAppDbContext>(db => db.AddInterceptors(database)));
        using var client = api.CreateClientFor("uncached-user");
        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();
        var readsBefore = database.Commands.Count(IsMapRead);
        Stripe.Reset();

        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(3, database.Commands.Count(IsMapRead) - readsBefore);
        Assert.Equal(3, Stripe.RequestsTo("/v1/customer_sessions").Count);
        Assert.Empty(Stripe.RequestsTo("/v1/customers"));

        static bool IsMapRead(string sql) => sql.StartsWith("SELECT", StringComparison.Ordinal) && sql.Contains("FROM \"customer_links\"", StringComparison.Ordinal);
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
        var database = new DbCommandSpy();
        // The background pass would run on its own as the clock jumps two hours; a day's interval leaves this pass to the test.
        await using var api = new ApiFactory(Stripe, Logs, "Development",
            new Dictionary<string, string?> { ["Bff:SessionCleanupBatch"] = "2", ["Bff:SessionCleanupInterval"] = "1.00:00:00" },
            services => services.AddSingleton<TimeProvider>(time).ConfigureDbContext<SqliteAppDbContext>(db => db.AddInterceptors(database)));
        for (var i = 0; i < 5; i++)
        {
            using var browser = api.CreateApiClient();
            (await BffRequests.SignInAsync(browser, $"expiring-user-{i}")).Dispose();
        }

        time.Advance(TimeSpan.FromHours(2));
        using var live = api.CreateApiClient();
        (await BffRequests.SignInAsync(live, "live-user")).Dispose();
        var cleanup = api.Services.GetServices<IHostedService>().OfType<ExpiredSessionCleanup>().Single();

        var deletesBefore = database.Commands.Count(IsSessionDelete);
        var deleted = await cleanup.DeleteExpiredAsync(CancellationToken.None);

        Assert.Equal(5, deleted);
        Assert.Equal(3, database.Commands.Count(IsSessionDelete) - deletesBefore); // 2 + 2 + 1
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

        // The control: the same session, were it a provider's, is good in Production. Only its origin refused it.
        await using (var db = await DatabaseOf(production).CreateDbContextAsync())
        {
            await db.BrowserSessions.ExecuteUpdateAsync(row => row.SetProperty(s => s.Issuer, "https://idp.example.com"));
        }

        using var asIfFromAProvider = await BffRequests.GetUserAsync(production.CreateApiClient(), cookie);
        Assert.Equal(HttpStatusCode.OK, asIfFromAProvider.StatusCode);
    }

    /// <summary>
    /// Kestrel, unlike the test server, refuses non-ASCII in a Location header with an exception: on the real server a
    /// non-ASCII returnUrl is a 400 problem at sign-in and at logout, and the logout does not half-happen.
    /// </summary>
    [Fact]
    public async Task A_non_ASCII_returnUrl_is_a_400_problem_on_the_real_server()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        var address = api.StartKestrel();
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true };
        using var client = new HttpClient(handler) { BaseAddress = address };
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

    /// <summary>The sign-in form is URL-encoded: a multipart one, whose parts could name a charset of their own, is a 400 problem.</summary>
    [Fact]
    public async Task A_multipart_sign_in_form_is_a_400_whatever_charset_its_parts_name()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Development");
        using var content = new MultipartFormDataContent("XB");
        var part = new StringContent("multipart-user");
        part.Headers.ContentType = new("text/plain") { CharSet = "utf-7" };
        content.Add(part, "userId");

        using var response = await api.CreateApiClient().PostAsync("/bff/login", content);

        await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(0, await SessionRowsAsync(api));
    }

    private static bool IsRenewal(string sql) => sql.StartsWith("UPDATE \"browser_sessions\"", StringComparison.Ordinal);

    private static bool IsSessionDelete(string sql) => sql.StartsWith("DELETE FROM \"browser_sessions\"", StringComparison.Ordinal);

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
