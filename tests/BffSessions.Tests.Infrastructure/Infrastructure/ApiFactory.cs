using System.Security.Claims;
using System.Text;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Payments;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Serilog.Core;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// The service as a test host: Stripe is the loopback <see cref="StripeStandIn"/>, the customer map a fresh
/// SQLite file, bearer tokens signed with a key configured exactly as `dotnet user-jwts` writes it, and every
/// log event captured for the secret guard.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>
{
    public const string Issuer = "bffsessions-tests";
    public const string Audience = "http://localhost:5080";
    public const string StripeKey = "sk_test_standin0123456789";

    private static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("bffsessions-tests-signing-key-0123456789-abcdef");

    /// <summary>The signing key as the SigningKeys setting takes it.</summary>
    public static string SigningKeyBase64 => Convert.ToBase64String(SigningKey);

    /// <summary>
    /// The environment variables of a service started as a process (<see cref="ServiceProcess"/>) that calls
    /// <paramref name="stripe"/> and takes this factory's bearer tokens. Each test adds its database, its Stripe key
    /// (as a variable or a mounted secret) and what else it needs.
    /// </summary>
    public static Dictionary<string, string> ProcessEnvironment(StripeStandIn stripe) => new()
    {
        ["Stripe__ApiBase"] = stripe.BaseAddress.ToString(),
        ["Authentication__Schemes__Bearer__ValidIssuer"] = Issuer,
        ["Authentication__Schemes__Bearer__ValidAudiences__0"] = Audience,
        ["Authentication__Schemes__Bearer__SigningKeys__0__Issuer"] = Issuer,
        ["Authentication__Schemes__Bearer__SigningKeys__0__Value"] = SigningKeyBase64,
    };

    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-tests-{Guid.NewGuid():N}.db");
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    /// <summary>A host against <paramref name="stripe"/>; <paramref name="settings"/> override the defaults above.</summary>
    /// <param name="stripe">The Stripe stand-in the host calls.</param>
    /// <param name="logs">Where every log event goes.</param>
    /// <param name="environment">The host environment (Test unless said).</param>
    /// <param name="settings">Settings beyond, or instead of, the defaults.</param>
    /// <param name="services">Changes to the service's registrations, applied after its own.</param>
    public ApiFactory(StripeStandIn stripe, LogCapture logs, string environment = "Test", IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null)
    {
        _services = services;
        Stripe = stripe;
        Logs = logs;
        Environment = environment;
        _settings = new Dictionary<string, string?>
        {
            ["Stripe:SecretKey"] = StripeKey,
            ["Stripe:ApiBase"] = stripe.BaseAddress.ToString(),
            ["Stripe:MaxNetworkRetries"] = "2",
            ["Stripe:Timeout"] = "00:00:03",
            ["ConnectionStrings:Customers"] = $"Data Source={_database}",
            // Development's offline stand-in keeps its customers beside the map, as it does beside the default database.
            ["Stripe:OfflineStateFile"] = _database + ".stripe.json",
            ["Authentication:Schemes:Bearer:ValidIssuer"] = Issuer,
            ["Authentication:Schemes:Bearer:ValidAudiences:0"] = Audience,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = Issuer,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = Convert.ToBase64String(SigningKey),
            // Tests send many requests per user; the rate-limit tests set their own, low limits.
            ["RateLimiting:PerUserBurst"] = "100000",
            ["RateLimiting:PerUserPerMinute"] = "100000",
            ["Serilog:MinimumLevel:Default"] = "Debug",
            // The capture sink sees everything; the console only what would alarm an operator.
            ["Serilog:WriteTo:0:Args:restrictedToMinimumLevel"] = "Fatal",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    public StripeStandIn Stripe { get; }

    public LogCapture Logs { get; }

    public string Environment { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environment);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(services => services.AddSingleton<ILogEventSink>(Logs));
        if (_services is not null)
        {
            builder.ConfigureTestServices(_services);
        }
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.Timeout = TimeSpan.FromSeconds(60);
    }

    /// <summary>
    /// A client on https://localhost (so the Secure session cookie round-trips) that keeps cookies, never
    /// follows redirects (a test sees every 302 for what it is), and fails the test if any response body leaks a
    /// secret.
    /// </summary>
    public HttpClient CreateApiClient()
    {
        var client = CreateDefaultClient(new Uri("https://localhost"), new LeakGuardHandler(), new CookieContainerHandler());
        client.Timeout = TimeSpan.FromSeconds(60);
        return client;
    }

    /// <summary>A client whose requests carry a bearer token for <paramref name="userId"/>.</summary>
    public HttpClient CreateClientFor(string userId, string? email = null, string? name = null)
    {
        var client = CreateApiClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", Token(userId, email, name));
        return client;
    }

    public static string Token(string? userId, string? email = null, string? name = null,
        DateTime? expires = null, string issuer = Issuer, string audience = Audience, byte[]? key = null, IEnumerable<Claim>? extraClaims = null)
    {
        var claims = new List<Claim>(extraClaims ?? []);
        if (userId is not null)
        {
            claims.Add(new Claim("sub", userId));
        }

        if (email is not null)
        {
            claims.Add(new Claim("email", email));
        }

        if (name is not null)
        {
            claims.Add(new Claim("name", name));
        }

        var now = DateTime.UtcNow;
        var notBefore = expires is { } e && e < now ? e.AddHours(-1) : now.AddMinutes(-1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity(claims),
            Issuer = issuer,
            Audience = audience,
            NotBefore = notBefore,
            IssuedAt = notBefore,
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key ?? SigningKey), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>
    /// Starts the host on a real Kestrel port the system picks (port 0) and answers the address it got: never another
    /// process's, as a port found free a moment earlier could be.
    /// </summary>
    public Uri StartKestrel()
    {
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        return new UriBuilder(address) { Host = "localhost" }.Uri;
    }

    /// <summary>The user's row in this host's customer map, as the service stored it (or null); the tokens' issuer unless said.</summary>
    public async Task<(string CustomerId, CustomerKind Kind)?> StoredLinkAsync(string userId, string issuer = Issuer)
    {
        await using var db = await Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var link = await db.CustomerLinks.AsNoTracking().SingleOrDefaultAsync(l => l.Issuer == issuer && l.UserId == userId);
        return link is null ? null : (link.CustomerId, link.Kind);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm", _database + ".stripe.json" })
        {
            File.Delete(file);
        }

        GC.SuppressFinalize(this);
    }
}
