using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// The README's "Call it", on a machine that never had user secrets: the service runs (`dotnet run`, Development),
/// then `dotnet user-jwts create` writes the first signing key, and a token signed with it works without a restart.
/// The test writes the key where and as user-jwts does, under a HOME of its own.
/// </summary>
[Collection(RunsAlone.Name)] // a service process of its own: CPU that the timing tests must not share
public sealed class UserJwtsTests
{
    private const string SecretsId = "bffsessions-api-5d1f0c6e"; // src/BffSessions.Api/BffSessions.Api.csproj's UserSecretsId

    [Fact]
    public async Task The_first_key_dotnet_user_jwts_writes_counts_without_a_restart()
    {
        var home = Directory.CreateTempSubdirectory("bffsessions-home-").FullName;
        // Port 0: the service says which port it got, so the address below is this process's and no other's.
        var start = DotnetCommand.StartInfo(
            ["run", "--no-build", "--no-launch-profile", "--project", Repository.PathOf("src", "BffSessions.Api"), "--", "--urls", "http://127.0.0.1:0"],
            new Dictionary<string, string?>
            {
                ["HOME"] = home,
                ["DOTNET_CLI_HOME"] = home,
                ["APPDATA"] = null,
                ["ASPNETCORE_ENVIRONMENT"] = "Development",
                ["ConnectionStrings__Customers"] = $"Data Source={Path.Combine(home, "bffsessions.db")}",
            });
        using var service = Process.Start(start)!;
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        service.OutputDataReceived += (_, line) =>
        {
            if (line.Data is { } text && text.Contains("Now listening on", StringComparison.Ordinal)
                && System.Text.RegularExpressions.Regex.Match(text, @"http://127\.0\.0\.1:\d+") is { Success: true } address)
            {
                listening.TrySetResult(new Uri(address.Value));
            }
        };
        service.ErrorDataReceived += (_, _) => { };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(90));
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilReadyAsync(http, service);

            var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            var secrets = Path.Combine(home, ".microsoft", "usersecrets", SecretsId, "secrets.json");
            Directory.CreateDirectory(Path.GetDirectoryName(secrets)!);
            await File.WriteAllTextAsync(secrets, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["Authentication:Schemes:Bearer:SigningKeys"] = new[] { new { Id = "5be629e8", Issuer = "dotnet-user-jwts", Value = Convert.ToBase64String(key), Length = 32 } },
            }));
            var token = ApiFactory.Token("ada", issuer: "dotnet-user-jwts", audience: "http://localhost:5080", key: key);

            HttpStatusCode status = 0;
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/customer-sessions")
                {
                    Content = JsonContent.Create(new { components = new { pricingTable = new { enabled = true } } }),
                };
                request.Headers.Authorization = new("Bearer", token);
                using var response = await http.SendAsync(request);
                status = response.StatusCode;
                await Task.Delay(250);
            }

            Assert.Equal(HttpStatusCode.OK, status);
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync();
            Directory.Delete(home, recursive: true);
        }
    }

    private static async Task WaitUntilReadyAsync(HttpClient http, Process service)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(service.HasExited, "the service stopped before it was ready");
            try
            {
                using var ready = await http.GetAsync("/health/ready");
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        Assert.Fail("the service was not ready within 60 s");
    }
}
