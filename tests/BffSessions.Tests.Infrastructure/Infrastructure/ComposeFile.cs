using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace BffSessions.Tests.Infrastructure;

/// <summary>docker-compose.yml's variables for a service, as compose would set them with nothing in the shell.</summary>
public static partial class ComposeFile
{
    /// <summary><paramref name="service"/>'s environment, each <c>${VAR:-default}</c> at its default.</summary>
    public static Dictionary<string, string> Environment(string service)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Repository.PathOf("docker-compose.yml")))
        {
            yaml.Load(reader);
        }

        var environment = (YamlMappingNode)yaml.Documents[0].RootNode["services"][service]["environment"];
        return environment.Children.ToDictionary(
            e => ((YamlScalarNode)e.Key).Value!,
            e => DefaultOf().Replace(((YamlScalarNode)e.Value).Value ?? "", "$1"));
    }

    /// <summary>Variables as the settings they bind to: <c>A__B</c> is <c>A:B</c>.</summary>
    public static Dictionary<string, string?> AsSettings(IEnumerable<KeyValuePair<string, string>> variables) =>
        variables.ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);

    [GeneratedRegex(@"^\$\{[A-Z_]+:-(.*)\}$")]
    private static partial Regex DefaultOf();
}
