using System.Net;
using BffSessions.Api.Data;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace BffSessions.Tests.ScaleOut;

/// <summary>The keys that encrypt cookies live in the shared database, not in a directory one machine happens to share.</summary>
public sealed class DataProtectionKeysTests : StandInTest
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"bffsessions-keys-{Guid.NewGuid():N}.db");
    private readonly List<string> _keyDirectories = [];

    [Fact]
    public async Task An_instance_with_its_own_key_directory_accepts_a_cookie_another_instance_issued()
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Customers"] = $"Data Source={_database}" };
        await using var a = new ApiFactory(Stripe, Logs, "Development", settings, services => WithOwnKeyDirectory(services, "a"));
        await using var b = new ApiFactory(Stripe, Logs, "Development", settings, services => WithOwnKeyDirectory(services, "b"));
        using var browserAtA = a.CreateApiClient();
        using var signIn = await browserAtA.PostAsync("/bff/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["userId"] = "roaming-user" }));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)).Split(';')[0];

        using var request = new HttpRequestMessage(HttpMethod.Get, "/bff/user");
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("X-CSRF", "1");
        using var browserAtB = b.CreateApiClient();
        using var atB = await browserAtB.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, atB.StatusCode);
        Assert.Contains("roaming-user", await atB.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = await a.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        Assert.NotEmpty(await db.DataProtectionKeys.ToListAsync());
        Assert.All(_keyDirectories, directory => Assert.Empty(Directory.GetFiles(directory)));
    }

    /// <summary>
    /// Where the service stores no keys of its own, each instance falls back to a directory of its own here, so a
    /// shared default directory on this machine cannot make the test pass.
    /// </summary>
    private void WithOwnKeyDirectory(IServiceCollection services, string instance)
    {
        var directory = Directory.CreateTempSubdirectory($"bffsessions-keys-{instance}-").FullName;
        _keyDirectories.Add(directory);
        services.PostConfigure<KeyManagementOptions>(keys =>
            keys.XmlRepository ??= new FileSystemXmlRepository(new DirectoryInfo(directory), NullLoggerFactory.Instance));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_database);
        foreach (var directory in _keyDirectories)
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
