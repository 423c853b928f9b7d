using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace BffSessions.Hosting;

public static class SettingsExtensions
{
    /// <summary>Where mounted secrets are read from: /run/secrets, or the directory in BFFSESSIONS_SECRETS_DIRECTORY.</summary>
    public static string SecretsDirectory =>
        Environment.GetEnvironmentVariable("BFFSESSIONS_SECRETS_DIRECTORY") is { Length: > 0 } directory ? directory : "/run/secrets";

    /// <summary>
    /// The defaults live in one appsettings.json at the repository root, copied next to the binaries on build
    /// and publish. It is inserted beneath every other source (appsettings.{Environment}.json, user secrets,
    /// environment variables, command line) so that each of those still overrides it.
    /// </summary>
    public static IHostApplicationBuilder AddRepositorySettings(this IHostApplicationBuilder builder)
    {
        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;
        FindEnvironmentSettingsBesideTheBinary(builder, sources);
        var defaults = new JsonConfigurationSource
        {
            Path = "appsettings.json",
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
            Optional = false,
            ReloadOnChange = false,
        };
        var firstJson = sources.Select((source, index) => (source, index)).FirstOrDefault(s => s.source is JsonConfigurationSource);
        sources.Insert(firstJson.source is null ? 0 : firstJson.index, defaults);

        // Container secrets (Docker/Kubernetes) mounted as one file per setting, "Stripe__SecretKey" holding the
        // key: above the JSON files, beneath environment variables and the command line.
        var lastJson = sources.Select((source, index) => (source, index)).Last(s => s.source is JsonConfigurationSource).index;
        var secrets = new ConfigurationBuilder().AddKeyPerFile(SecretsDirectory, optional: true).Sources[0];
        sources.Insert(lastJson + 1, secrets);
        return builder;
    }

    /// <summary>
    /// The host reads appsettings.{Environment}.json from the content root, the working directory: started from
    /// anywhere else (<c>dotnet /app/BffSessions.Api.dll</c> from /), Production's settings would silently be missing.
    /// Where the file is not in the content root but beside the binaries (where build and publish put it), it is read
    /// from there. Development keeps the content root's copy, the one `dotnet user-jwts` edits.
    /// </summary>
    private static void FindEnvironmentSettingsBesideTheBinary(IHostApplicationBuilder builder, IList<IConfigurationSource> sources)
    {
        var file = $"appsettings.{builder.Environment.EnvironmentName}.json";
        var index = sources.Select((source, index) => (source, index))
            .FirstOrDefault(s => s.source is JsonConfigurationSource { Path: var path } && path == file).index;
        var contentRoot = builder.Environment.ContentRootPath;
        if (sources.ElementAtOrDefault(index) is not JsonConfigurationSource { Path: not null } source || source.Path != file
            || File.Exists(Path.Combine(contentRoot, file)) || !File.Exists(Path.Combine(AppContext.BaseDirectory, file)))
        {
            return;
        }

        sources[index] = new JsonConfigurationSource
        {
            Path = file,
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
            Optional = source.Optional,
            ReloadOnChange = source.ReloadOnChange,
        };
    }
}
