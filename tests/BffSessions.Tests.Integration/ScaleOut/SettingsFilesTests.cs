using System.Text.Json;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.ScaleOut;

/// <summary>The environment's settings file is read from beside the binaries, wherever the process is started from.</summary>
public sealed class SettingsFilesTests : StandInTest
{
    [Fact]
    public async Task Started_from_another_directory_in_Production_it_still_reads_appsettings_Production_json()
    {
        var elsewhere = Directory.CreateTempSubdirectory("bffsessions-elsewhere-").FullName;
        try
        {
            // appsettings.Production.json turns the console into JSON lines: the way to tell it was read.
            await using var service = ServiceProcess.Start(new Dictionary<string, string>(ApiFactory.ProcessEnvironment(Stripe))
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__Customers"] = $"Data Source={Path.Combine(elsewhere, "customers.db")}",
                ["Stripe__SecretKey"] = ApiFactory.StripeKey,
            }, workingDirectory: elsewhere);

            await service.ReadyAsync(TimeSpan.FromSeconds(60));

            Assert.False(File.Exists(Path.Combine(elsewhere, "appsettings.Production.json")));
            var lines = service.Output.Where(line => line.Length > 0).ToList();
            Assert.NotEmpty(lines);
            Assert.All(lines, line => Assert.True(JsonDocument.Parse(line).RootElement.TryGetProperty("@t", out _), line));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(elsewhere, recursive: true);
        }
    }
}
