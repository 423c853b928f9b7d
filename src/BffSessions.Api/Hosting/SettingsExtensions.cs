using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace BffSessions.Api.Hosting;

public static class SettingsExtensions
{
    /// <summary>
    /// The defaults live in one appsettings.json at the repository root, copied next to the binaries on build
    /// and publish. It is inserted beneath every other source (appsettings.{Environment}.json, user secrets,
    /// environment variables, command line) so that each of those still overrides it.
    /// </summary>
    public static IHostApplicationBuilder AddRepositorySettings(this IHostApplicationBuilder builder)
    {
        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;
        var defaults = new JsonConfigurationSource
        {
            Path = "appsettings.json",
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
            Optional = false,
            ReloadOnChange = false,
        };
        var firstJson = sources.Select((source, index) => (source, index)).FirstOrDefault(s => s.source is JsonConfigurationSource);
        sources.Insert(firstJson.source is null ? 0 : firstJson.index, defaults);
        return builder;
    }
}
