using System.Reflection;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.UserSecrets;
using Microsoft.Extensions.FileProviders;

namespace BffSessions.Api.Identity;

/// <summary>
/// `dotnet user-jwts create` writes its signing key into the user secrets, and the host reloads them when they change,
/// but only if their folder existed when it started: on a machine that never had user secrets, the first key would
/// count only after a restart. In Development, this makes the folder and watches it from the start.
/// </summary>
internal static class DevelopmentUserSecrets
{
    public static void WatchEvenBeforeTheFirstSecret(IHostApplicationBuilder builder)
    {
        if (!builder.Environment.IsDevelopment()
            || Assembly.Load(new AssemblyName(builder.Environment.ApplicationName)).GetCustomAttribute<UserSecretsIdAttribute>() is not { } secrets)
        {
            return;
        }

        var folder = Path.GetDirectoryName(PathHelper.GetSecretsPathFromSecretsId(secrets.UserSecretsId))!;
        var sources = builder.Configuration.Sources;
        // The host's own source for them: secrets.json under a provider rooted in that folder, or, when the folder was
        // missing, under the content root's provider, where nothing will ever write it.
        var index = sources.ToList().FindIndex(source => source is JsonConfigurationSource { Path: "secrets.json" });
        if (index < 0 || sources[index] is JsonConfigurationSource { FileProvider: PhysicalFileProvider provider } && PathsEqual(provider.Root, folder))
        {
            return;
        }

        Directory.CreateDirectory(folder);
        // In its place, so that environment variables and the command line still win over the secrets.
        sources[index] = new JsonConfigurationSource
        {
            FileProvider = new PhysicalFileProvider(folder),
            Path = "secrets.json",
            Optional = true,
            ReloadOnChange = true,
        };
    }

    private static bool PathsEqual(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);
}
