using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace BffSessions.Tests;

/// <summary>A user is an issuer and a subject; a subject that cannot be a user id is refused before anything else happens.</summary>
public sealed class UserIdentityTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    public static TheoryData<string, string> UnusableSubjects => new()
    {
        { "empty", "" },
        { "blank", "   " },
        { "over 255 characters", new string('u', 256) },
        { "with NUL", "user\0evil" },
        { "with a line break", "user\nevil" },
    };

    [Theory]
    [MemberData(nameof(UnusableSubjects))]
    public async Task A_subject_that_cannot_be_a_user_id_gets_a_403_before_any_database_or_Stripe_call(string why, string subject)
    {
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token(subject));

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal(CommonProblems.Forbidden.Type, problem.GetProperty("type").GetString());
        Assert.Empty(Stripe.Requests);
        await using var db = await Api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.False(await db.CustomerLinks.AnyAsync(l => l.UserId == subject), why);
    }

    [Fact]
    public async Task A_subject_of_exactly_255_characters_is_a_user()
    {
        var subject = new string('u', 254) + Guid.NewGuid().ToString("N")[..1];
        using var client = Api.CreateClientFor(subject);

        using var response = await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(await Api.StoredLinkAsync(subject));
    }

    /// <summary>Only an email_verified of true lets the address through; without the claim, the address is taken as given.</summary>
    [Theory]
    [InlineData("false", ClaimValueTypes.Boolean, false)]
    [InlineData("0", ClaimValueTypes.Integer, false)]
    [InlineData("no", ClaimValueTypes.String, false)]
    [InlineData("", ClaimValueTypes.String, false)]
    [InlineData("true", ClaimValueTypes.Boolean, true)]
    [InlineData("True", ClaimValueTypes.String, true)]
    [InlineData(null, null, true)]
    public async Task An_email_the_provider_does_not_say_it_verified_is_not_put_on_the_customer(string? verified, string? type, bool sent)
    {
        var userId = NewUserId();
        using var client = Api.CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token(userId, "me@example.com",
            extraClaims: verified is null ? [] : [new Claim("email_verified", verified, type)]));

        (await client.PostAsJsonAsync("/api/customer-sessions", BffRequests.PricingTable)).Dispose();

        var created = Stripe.RequestsTo("/v1/customers").Single(c => c.Form["metadata[user_id]"] == userId);
        Assert.Equal(sent ? "me@example.com" : null, created.Form.GetValueOrDefault("email"));
    }
}

/// <summary>Hosts that trust more than one issuer, and maps from before issuers were recorded.</summary>
public sealed class IssuerTests : StandInTest
{
    private const string OtherIssuer = "https://other-idp.example";
    private static readonly byte[] OtherKey = Encoding.UTF8.GetBytes("another-issuers-signing-key-0123456789-abcdef");
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-legacy-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task The_same_subject_from_two_issuers_is_two_users_with_two_customers()
    {
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["Authentication:Schemes:Bearer:ValidIssuers:0"] = ApiFactory.Issuer,
            ["Authentication:Schemes:Bearer:ValidIssuers:1"] = OtherIssuer,
            ["Authentication:Schemes:Bearer:SigningKeys:1:Issuer"] = OtherIssuer,
            ["Authentication:Schemes:Bearer:SigningKeys:1:Value"] = Convert.ToBase64String(OtherKey),
        });
        using var ours = api.CreateClientFor("shared-subject");
        using var theirs = api.CreateApiClient();
        theirs.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("shared-subject", issuer: OtherIssuer, key: OtherKey));

        var customerOfOurs = await BffRequests.CustomerOfSessionAsync(ours);
        var customerOfTheirs = await BffRequests.CustomerOfSessionAsync(theirs);

        Assert.NotEqual(customerOfOurs, customerOfTheirs);
        var created = Stripe.RequestsTo("/v1/customers");
        Assert.Equal(2, created.Count);
        Assert.Equal([ApiFactory.Issuer, OtherIssuer], created.Select(c => c.Form["metadata[issuer]"]).Order(StringComparer.Ordinal));
        Assert.Equal(2, created.Select(c => c.Headers["Idempotency-Key"]).Distinct().Count());
        Assert.Equal(customerOfOurs, (await api.StoredLinkAsync("shared-subject"))?.CustomerId);
        Assert.Equal(customerOfTheirs, (await api.StoredLinkAsync("shared-subject", OtherIssuer))?.CustomerId);
    }

    /// <summary>
    /// A map from before users were keyed by issuer keeps its customers: the rows get the issuer this deployment trusted,
    /// and those users' next session creates no customer.
    /// </summary>
    [Fact]
    public async Task Users_from_before_issuers_were_recorded_keep_their_customers()
    {
        var customerId = await Stripe.CreateCustomerAsync("long-time-user");
        await CreateMapFromBeforeIssuersAsync("long-time-user", customerId);
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["ConnectionStrings:Customers"] = $"Data Source={_database}" });
        using var client = api.CreateClientFor("long-time-user");
        Stripe.Reset();
        // The report counts beside start-up, not before it: a request before its line could adopt the row it counts.
        await WaitForLogAsync($"1 users from before issuers were recorded keep their customers when they next sign in with issuer \"{ApiFactory.Issuer}\"");

        var customer = await BffRequests.CustomerOfSessionAsync(client);

        Assert.Equal(customerId, customer);
        Assert.Empty(Stripe.RequestsTo("/v1/customers"));
        Assert.Equal(customerId, (await api.StoredLinkAsync("long-time-user"))?.CustomerId);
        Assert.Contains(Logs.Lines, l => l.Contains($"User \"long-time-user\" from before issuers were recorded keeps their customer, as a user of \"{ApiFactory.Issuer}\"", StringComparison.Ordinal));
    }

    /// <summary>Only the issuer the deployment trusted before may adopt an old row: the same sub from another issuer is someone else.</summary>
    [Fact]
    public async Task The_same_subject_from_another_issuer_does_not_adopt_a_user_from_before_issuers()
    {
        var customerId = await Stripe.CreateCustomerAsync("long-time-user");
        await CreateMapFromBeforeIssuersAsync("long-time-user", customerId);
        await using var api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>
        {
            ["ConnectionStrings:Customers"] = $"Data Source={_database}",
            ["Authentication:Schemes:Bearer:ValidIssuers:0"] = OtherIssuer,
            ["Authentication:Schemes:Bearer:SigningKeys:1:Issuer"] = OtherIssuer,
            ["Authentication:Schemes:Bearer:SigningKeys:1:Value"] = Convert.ToBase64String(OtherKey),
        });
        using var stranger = api.CreateApiClient();
        stranger.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("long-time-user", issuer: OtherIssuer, key: OtherKey));
        using var owner = api.CreateClientFor("long-time-user");

        var strangersCustomer = await BffRequests.CustomerOfSessionAsync(stranger);
        var ownersCustomer = await BffRequests.CustomerOfSessionAsync(owner);

        Assert.NotEqual(customerId, strangersCustomer);
        Assert.Equal(customerId, ownersCustomer);
    }

    /// <summary>Nothing is moved at start: a LegacyIssuer set wrong and corrected before a user returns still lets them keep their customer.</summary>
    [Fact]
    public async Task A_legacy_issuer_corrected_before_a_user_returns_still_adopts_them()
    {
        var customerId = await Stripe.CreateCustomerAsync("long-time-user");
        await CreateMapFromBeforeIssuersAsync("long-time-user", customerId);
        var database = new Dictionary<string, string?> { ["ConnectionStrings:Customers"] = $"Data Source={_database}" };
        await using (var wrong = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>(database) { ["Customers:LegacyIssuer"] = ApiFactory.Issuer + "/" }))
        {
            _ = wrong.Server;
        }

        await using var corrected = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?>(database) { ["Customers:LegacyIssuer"] = ApiFactory.Issuer });
        using var owner = corrected.CreateClientFor("long-time-user");

        Assert.Equal(customerId, await BffRequests.CustomerOfSessionAsync(owner));
    }



    /// <summary>Until a log line holding <paramref name="text"/> is written (the host's background services write theirs when they get to it).</summary>
    private async Task WaitForLogAsync(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Logs.Lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log line with: {text}");
            await Task.Delay(20);
        }
    }

    /// <summary>The schema as it was before issuers (the AddLinkKind migration), with one user in it.</summary>
    private async Task CreateMapFromBeforeIssuersAsync(string userId, string customerId)
    {
        await using var db = new SqliteAppDbContext(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite($"Data Source={_database}").Options);
        var migrations = db.Database.GetMigrations().ToList();
        await db.GetService<IMigrator>().MigrateAsync(migrations.Single(m => m.EndsWith("_AddLinkKind", StringComparison.Ordinal)));
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO customer_links (user_id, customer_id, kind, created_at, updated_at) VALUES ({userId}, {customerId}, 'Customer', '2026-01-01', '2026-01-01')");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_database);
    }
}
