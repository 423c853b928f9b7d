using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Tests;

/// <summary>
/// OpenID Connect Back-Channel Logout, against a provider whose keys the test holds: every rule of the logout token,
/// each broken once, and the sessions a valid one names.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the host through IAsyncLifetime.DisposeAsync.")]
public sealed class BackchannelLogoutTests : StandInTest
{
    private const string Provider = "https://idp.example";
    private const string ClientId = "bff-client";
    private static readonly RsaSecurityKey ProviderKey = new(RSA.Create(2048)) { KeyId = "provider-key" };
    private static readonly RsaSecurityKey ForeignKey = new(RSA.Create(2048)) { KeyId = "provider-key" };

    private readonly DbCommandSpy _database = new();
    private readonly TestOpenIdProvider _provider = new(Provider, ClientId, ProviderKey);
    private ApiFactory _api = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _api = new ApiFactory(Stripe, Logs, "Test", _provider.Settings, services =>
        {
            services.ConfigureDbContext<SqliteAppDbContext>(db => db.AddInterceptors(_database));
            _provider.Configure(services);
        });
    }

    public override async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task A_logout_token_naming_a_sid_ends_that_session_alone()
    {
        var ended = await StoreSessionAsync("ada", "sid-1");
        var other = await StoreSessionAsync("ada", "sid-2");
        var someoneElse = await StoreSessionAsync("grace", "sid-3");

        using var response = await PostAsync(Token(new { sub = "ada", sid = "sid-1" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore);
        Assert.Equal((false, true, true), (await IsLiveAsync(ended), await IsLiveAsync(other), await IsLiveAsync(someoneElse)));
    }

    [Fact]
    public async Task A_logout_token_naming_only_the_user_ends_all_of_their_sessions()
    {
        var first = await StoreSessionAsync("linus", "sid-a");
        var second = await StoreSessionAsync("linus", "sid-b");
        var someoneElse = await StoreSessionAsync("ken", "sid-c");

        using var response = await PostAsync(Token(new { sub = "linus" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((false, false, true), (await IsLiveAsync(first), await IsLiveAsync(second), await IsLiveAsync(someoneElse)));
    }

    [Fact]
    public async Task A_fresh_logout_token_without_exp_is_accepted()
    {
        var session = await StoreSessionAsync("no-exp-user", "sid-n");

        using var response = await PostAsync(Token(new { sid = "sid-n" }, withExpiry: false));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(await IsLiveAsync(session));
    }

    /// <summary>A delivery the database fails is not remembered as done: the provider's retry ends the sessions.</summary>
    [Fact]
    public async Task A_logout_the_database_failed_ends_the_sessions_when_the_provider_retries_it()
    {
        var session = await StoreSessionAsync("retried-user", "sid-r");
        var token = Token(new { sub = "retried-user" });
        _database.Fail = sql => sql.StartsWith("DELETE FROM \"browser_sessions\"", StringComparison.Ordinal);

        using var failed = await PostAsync(token);
        _database.Fail = null;
        using var retried = await PostAsync(token);

        await HttpAssert.ProblemAsync(failed, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.False(await IsLiveAsync(session));
    }

    /// <summary>The spec's form is URL-encoded; a multipart body (whose parts could each name a charset) is no logout token.</summary>
    [Fact]
    public async Task A_multipart_body_is_a_400_whatever_charset_its_parts_name()
    {
        using var client = _api.CreateApiClient();
        using var content = new MultipartFormDataContent("XB");
        var part = new StringContent(Token(new { sub = "multipart-user" }));
        part.Headers.ContentType = new("text/plain") { CharSet = "utf-7" };
        content.Add(part, "logout_token");

        using var response = await client.PostAsync("/bff/backchannel", content);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.InvalidLogoutToken.Type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_logout_token_for_a_session_that_already_ended_is_still_a_success()
    {
        using var response = await PostAsync(Token(new { sub = "nobody", sid = "long-gone" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ending_all_of_a_users_sessions_is_one_call_for_operators_too()
    {
        var first = await StoreSessionAsync("lost-phone-user", "sid-x");
        var second = await StoreSessionAsync("lost-phone-user", "sid-y");
        var sessions = _api.Services.GetRequiredService<BrowserSessions>();

        var ended = await sessions.EndAllAsync(Provider, "lost-phone-user", CancellationToken.None);

        Assert.Equal(2, ended);
        Assert.Equal((false, false), (await IsLiveAsync(first), await IsLiveAsync(second)));
    }

    /// <summary>Sessions are the provider's: a logout by sub ends only that issuer's user, not an equal sub signed in some other way.</summary>
    [Fact]
    public async Task A_logout_token_ends_only_sessions_of_its_own_issuer()
    {
        var atTheProvider = await StoreSessionAsync("same-sub", "sid-p");
        var elsewhere = await StoreSessionAsync("same-sub", "sid-e", issuer: "https://another-idp.example");

        using var response = await PostAsync(Token(new { sub = "same-sub" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((false, true), (await IsLiveAsync(atTheProvider), await IsLiveAsync(elsewhere)));
    }

    [Fact]
    public async Task A_token_naming_a_sid_and_another_users_sub_ends_nothing()
    {
        var session = await StoreSessionAsync("owner-of-sid", "sid-owned");

        using var response = await PostAsync(Token(new { sub = "someone-else", sid = "sid-owned" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await IsLiveAsync(session));
    }

    /// <summary>
    /// A captured token replayed later must not end the sessions the user began after signing out. The replay is a 400:
    /// the spec's validation (section 2.6, step 8) checks that the jti was not received before, and a token that fails
    /// any step is rejected with a 400.
    /// </summary>
    [Fact]
    public async Task A_replayed_logout_token_is_a_400_and_ends_nothing_the_second_time()
    {
        var token = Token(new { sub = "replayed-user" }, id: NewTokenId());
        using (var first = await PostAsync(token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var laterSession = await StoreSessionAsync("replayed-user", "sid-later");

        using var replay = await PostAsync(token);

        await AssertInvalidAsync(replay);
        Assert.True(await IsLiveAsync(laterSession));
    }

    /// <summary>
    /// The tokens acted on are remembered in the database, not in the process: a token captured on its way here and
    /// replayed after a restart (within the five minutes it is taken for) is refused, and the session the user signed in
    /// with since lives on.
    /// </summary>
    [Fact]
    public async Task A_logout_token_replayed_after_a_restart_is_refused_and_ends_no_session_begun_since()
    {
        var database = Path.Combine(Path.GetTempPath(), $"bffsessions-tests-{Guid.NewGuid():N}.db");
        try
        {
            var token = Token(new { sub = "restarted-user" }, id: NewTokenId());
            await using (var before = NewApi(database))
            {
                using var browser = before.CreateApiClient();
                await SignInAsync(browser, "restarted-user", "sid-before-restart");
                using var delivered = await PostAsync(token, before);
                Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
                Assert.Equal(HttpStatusCode.Unauthorized, await UserStatusAsync(browser));
            }

            await using var after = NewApi(database);
            using var signedInAgain = after.CreateApiClient();
            await SignInAsync(signedInAgain, "restarted-user", "sid-after-restart");

            using var replay = await PostAsync(token, after);

            await AssertInvalidAsync(replay);
            Assert.Equal(HttpStatusCode.OK, await UserStatusAsync(signedInAgain));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>Every instance sharing the database knows the tokens any of them acted on.</summary>
    [Fact]
    public async Task A_logout_token_replayed_at_another_instance_is_refused_there()
    {
        await using var other = NewApi(_api.Services.GetRequiredService<IConfiguration>().GetConnectionString("Customers")!);
        var token = Token(new { sub = "two-instance-user" }, id: NewTokenId());
        using var here = _api.CreateApiClient();
        await SignInAsync(here, "two-instance-user", "sid-here");
        using var delivered = await PostAsync(token);
        using var there = other.CreateApiClient();
        await SignInAsync(there, "two-instance-user", "sid-there");

        using var replay = await PostAsync(token, other);

        Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        await AssertInvalidAsync(replay);
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.OK), (await UserStatusAsync(here), await UserStatusAsync(there)));
    }

    /// <summary>
    /// A token is remembered while any instance would take it (five minutes after its iat, two more for clocks), then
    /// forgotten: the table does not grow with every logout.
    /// </summary>
    [Fact]
    public async Task A_logout_token_is_forgotten_once_no_instance_would_take_it_again()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = new ApiFactory(Stripe, Logs, "Test", _provider.Settings, services =>
        {
            _provider.Configure(services);
            services.AddSingleton<TimeProvider>(time);
        });
        var token = Token(new { sub = "forgotten-user" }, issuedAt: time.GetUtcNow(), id: NewTokenId());
        using (var delivered = await PostAsync(token, api))
        {
            Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
        }

        var tokens = api.Services.GetRequiredService<SeenLogoutTokens>();

        time.Advance(TimeSpan.FromMinutes(7) - TimeSpan.FromSeconds(1));
        var whileTaken = await tokens.ForgetOldAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(2));
        var afterwards = await tokens.ForgetOldAsync(CancellationToken.None);
        using var tooLate = await PostAsync(token, api);

        Assert.Equal((0, 1), (whileTaken, afterwards));
        await AssertInvalidAsync(tooLate); // refused for its age now
    }

    /// <summary>
    /// A logout token is about the sessions that existed when the provider issued it. A session signed in since (the user
    /// signed in again, at the provider too) is not what it meant, even when the token arrives for the first time.
    /// </summary>
    [Fact]
    public async Task A_logout_token_ends_the_sessions_begun_by_its_iat_and_not_one_signed_in_since()
    {
        using var before = _api.CreateApiClient();
        using var since = _api.CreateApiClient();
        await SignInAsync(before, "returning-user", "sid-before");
        await SignInAsync(since, "returning-user", "sid-since");
        // Within the five minutes a token is taken for, and further back than the two minutes allowed for clocks.
        var issuedAt = DateTimeOffset.UtcNow.AddMinutes(-3);
        await SignedInAtAsync("sid-before", issuedAt.AddMinutes(-1));

        using var response = await PostAsync(Token(new { sub = "returning-user" }, issuedAt: issuedAt, expires: DateTimeOffset.UtcNow.AddMinutes(2), id: NewTokenId()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.OK), (await UserStatusAsync(before), await UserStatusAsync(since)));
    }

    /// <summary>
    /// A logout token always names the provider's own sub, whichever claim the customer map keys users by
    /// (Identity:UserIdClaim=oid for Entra ID): the session is still found.
    /// </summary>
    [Fact]
    public async Task A_logout_by_sub_ends_the_session_when_users_are_keyed_by_another_claim()
    {
        await using var api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?>(_provider.Settings)
        {
            ["Identity:UserIdClaim"] = "oid",
        }, _provider.Configure);
        var store = api.Services.GetRequiredService<BrowserSessionStore>();
        var key = await store.StoreAsync(Ticket(new Claim("iss", Provider), new Claim("sub", "pairwise-sub"), new Claim("oid", "object-id-1"), new Claim("sid", "sid-o")));

        using var client = api.CreateApiClient();
        using var response = await client.PostAsync("/bff/backchannel", new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = Token(new { sub = "pairwise-sub" }) }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(await store.RetrieveAsync(key));
    }

    public static TheoryData<string, Func<string>> BadTokens => new()
    {
        { "signed by another key", () => Token(new { sub = "victim", sid = "sid-v" }, key: ForeignKey) },
        { "for another client", () => Token(new { sub = "victim", sid = "sid-v" }, audience: "another-client") },
        { "from another issuer", () => Token(new { sub = "victim", sid = "sid-v" }, issuer: "https://evil.example") },
        { "with a nonce, like an ID token", () => Token(new { sub = "victim", sid = "sid-v", nonce = "n" }) },
        { "without the events claim", () => Token(new { sub = "victim", sid = "sid-v" }, withEvents: false) },
        { "with another event", () => Token(new { sub = "victim", sid = "sid-v" }, events: new Dictionary<string, object> { ["https://example.com/other"] = new { } }) },
        { "with the event's value not an object", () => Token(new { sub = "victim", sid = "sid-v" }, events: new Dictionary<string, object> { [BackchannelLogout.LogoutEvent] = "yes" }) },
        { "naming neither sub nor sid", () => Token(new { }) },
        { "expired", () => Token(new { sub = "victim", sid = "sid-v" }, issuedAt: DateTimeOffset.UtcNow.AddMinutes(-30), expires: DateTimeOffset.UtcNow.AddMinutes(-20)) },
        { "issued in the future", () => Token(new { sub = "victim", sid = "sid-v" }, issuedAt: DateTimeOffset.UtcNow.AddMinutes(10)) },
        { "old and without exp", () => Token(new { sub = "victim", sid = "sid-v" }, issuedAt: DateTimeOffset.UtcNow.AddMinutes(-10), withExpiry: false) },
        { "old, though its exp is far off", () => Token(new { sub = "victim", sid = "sid-v" }, issuedAt: DateTimeOffset.UtcNow.AddMinutes(-10), expires: DateTimeOffset.UtcNow.AddHours(1)) },
        { "with an iat beyond any date", () => TokenWithIat(new { sub = "victim", sid = "sid-v" }, long.MaxValue / 2) },
        { "with an iat that is a string", () => TokenWithIat(new { sub = "victim", sid = "sid-v" }, DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)) },
        { "with an iat that is a fraction", () => TokenWithIat(new { sub = "victim", sid = "sid-v" }, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 0.5) },
        { "without jti", () => Token(new { sub = "victim", sid = "sid-v" }, id: null) },
        { "with crit in its header", () => Token(new { sub = "victim", sid = "sid-v" }, header: new Dictionary<string, object> { ["crit"] = new[] { "urn:example:must-understand" }, ["urn:example:must-understand"] = true }) },
        { "unsigned", () => new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(Claims(new { sub = "victim", sid = "sid-v" }))) },
        { "not a JWT", () => "not-a-token" },
        { "empty", () => "" },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_logout_token_is_a_400_problem_and_ends_nothing(string why, Func<string> token)
    {
        var victim = await StoreSessionAsync("victim", "sid-v");

        using var response = await PostAsync(token());

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.InvalidLogoutToken.Type, problem.GetProperty("type").GetString());
        Assert.True(await IsLiveAsync(victim), why);
        Assert.Contains(Logs.Lines, l => l.Contains("Refused a back-channel logout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_request_that_is_not_a_form_is_a_400_problem()
    {
        using var client = _api.CreateApiClient();

        using var json = await client.PostAsync("/bff/backchannel", new StringContent("{\"logout_token\":\"x\"}", System.Text.Encoding.UTF8, "application/json"));
        using var multipart = await client.PostAsync("/bff/backchannel", new StringContent("x", System.Text.Encoding.UTF8, "multipart/form-data"));

        await HttpAssert.ProblemAsync(json, HttpStatusCode.BadRequest);
        await HttpAssert.ProblemAsync(multipart, HttpStatusCode.BadRequest);
    }

    /// <summary>A session as signing in at the provider leaves it: a row keyed by a cookie key, with the provider's iss and sid.</summary>
    private async Task<string> StoreSessionAsync(string subject, string sid, string issuer = Provider) =>
        await _api.Services.GetRequiredService<BrowserSessionStore>()
            .StoreAsync(Ticket(new Claim("iss", issuer), new Claim("sub", subject), new Claim("sid", sid)));

    private static AuthenticationTicket Ticket(params Claim[] claims)
    {
        var properties = new AuthenticationProperties { IssuedUtc = DateTimeOffset.UtcNow, ExpiresUtc = DateTimeOffset.UtcNow.AddHours(1) };
        properties.Items[BrowserSessionStore.AbsoluteExpiryItem] = DateTimeOffset.UtcNow.AddHours(12).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, "test")), properties, IdentityExtensions.CookieScheme);
    }

    /// <summary>A logout token whose iat is whatever JSON value a broken or hostile provider might sign.</summary>
    private static string TokenWithIat(object claims, object iat)
    {
        var payload = Claims(claims);
        payload["iss"] = Provider;
        payload["aud"] = ClientId;
        payload["iat"] = iat;
        payload["exp"] = DateTimeOffset.UtcNow.AddMinutes(2).ToUnixTimeSeconds();
        payload["jti"] = "jti-iat";
        payload["events"] = LogoutEvents;
        return new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(payload), new SigningCredentials(ProviderKey, SecurityAlgorithms.RsaSha256));
    }

    /// <summary>Signs <paramref name="browser"/> in at the provider, through /bff/login and the callback, as a user would.</summary>
    private async Task SignInAsync(HttpClient browser, string subject, string sid)
    {
        using var callback = await _provider.SignInAsync(browser, subject, sid);
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
    }

    /// <summary>Moves the start of the session the provider calls <paramref name="sid"/> back to <paramref name="signedInAt"/>.</summary>
    private async Task SignedInAtAsync(string sid, DateTimeOffset signedInAt)
    {
        await using var db = await _api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.Equal(1, await db.BrowserSessions.Where(s => s.Sid == sid)
            .ExecuteUpdateAsync(row => row.SetProperty(s => s.CreatedAt, signedInAt.UtcDateTime)));
    }

    /// <summary>What /bff/user answers <paramref name="browser"/>: 200 while its session lives, 401 once it has ended.</summary>
    private static async Task<HttpStatusCode> UserStatusAsync(HttpClient browser)
    {
        using var user = await BffRequests.GetUserAsync(browser);
        return user.StatusCode;
    }

    /// <summary>Another host with this provider, on the SQLite database at <paramref name="database"/> (a path or a connection string).</summary>
    private ApiFactory NewApi(string database) =>
        new(Stripe, Logs, "Test", new Dictionary<string, string?>(_provider.Settings)
        {
            ["ConnectionStrings:Customers"] = database.StartsWith("Data Source=", StringComparison.Ordinal) ? database : $"Data Source={database}",
        }, _provider.Configure);

    private static async Task AssertInvalidAsync(HttpResponseMessage response)
    {
        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(IdentityProblems.InvalidLogoutToken.Type, problem.GetProperty("type").GetString());
    }

    private static string NewTokenId() => "jti-" + Guid.NewGuid().ToString("N");

    private async Task<bool> IsLiveAsync(string key) =>
        await _api.Services.GetRequiredService<BrowserSessionStore>().RetrieveAsync(key) is not null;

    private async Task<HttpResponseMessage> PostAsync(string token, ApiFactory? api = null)
    {
        using var client = (api ?? _api).CreateApiClient();
        return await client.PostAsync("/bff/backchannel", new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = token }));
    }

    private static readonly Dictionary<string, object> LogoutEvents = new() { [BackchannelLogout.LogoutEvent] = new { } };

    /// <summary>A logout token as the provider signs it; each parameter breaks one rule when changed.</summary>
    private static string Token(object claims, SecurityKey? key = null, string audience = ClientId, string issuer = Provider,
        bool withEvents = true, Dictionary<string, object>? events = null, DateTimeOffset? issuedAt = null, bool withExpiry = true,
        DateTimeOffset? expires = null, string? id = "jti-1", Dictionary<string, object>? header = null)
    {
        var payload = Claims(claims);
        var iat = issuedAt ?? DateTimeOffset.UtcNow;
        payload["iss"] = issuer;
        payload["aud"] = audience;
        payload["iat"] = iat.ToUnixTimeSeconds();
        if (withExpiry)
        {
            payload["exp"] = (expires ?? iat.AddMinutes(2)).ToUnixTimeSeconds();
        }

        if (id is not null)
        {
            payload["jti"] = id;
        }

        if (withEvents)
        {
            payload["events"] = events ?? LogoutEvents;
        }

        return new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(payload),
            new SigningCredentials(key ?? ProviderKey, SecurityAlgorithms.RsaSha256), new Dictionary<string, object>(header ?? []) { ["typ"] = "logout+jwt" });
    }

    private static Dictionary<string, object> Claims(object claims) =>
        JsonSerializer.Deserialize<Dictionary<string, object>>(JsonSerializer.Serialize(claims))!;
}
