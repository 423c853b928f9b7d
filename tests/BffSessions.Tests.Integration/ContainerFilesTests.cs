using System.Text.Json;
using BffSessions.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace BffSessions.Tests;

/// <summary>
/// docker-compose.yml and the Dockerfiles agree with the service: every variable compose sets on the api binds to
/// a real setting, the api is served on 8080, the demo signs in at the stack's own identity provider, images are
/// pinned, and the images run as non-root users with no secret in the API's ENV.
/// </summary>
public sealed class ContainerFilesTests
{
    private static readonly string[] SecretNames = ["SecretKey", "Password", "ClientSecret"];

    private static readonly string Root = Repository.Root;

    [Fact]
    public void Every_variable_compose_sets_on_the_api_binds_to_a_setting()
    {
        using var appsettings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "appsettings.json")));

        var unknown = ApiEnvironmentNames().Where(name => !BindsToASetting(name, appsettings.RootElement)).ToList();

        Assert.True(unknown.Count == 0, $"docker-compose.yml sets variables on api that bind to no setting in appsettings.json: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Compose_publishes_the_api_on_port_8080()
    {
        var ports = ((YamlSequenceNode)ApiService()["ports"]).Children.Select(Scalar).ToList();

        // Short syntax: [host-ip:][host-port:]container-port[/protocol]
        Assert.Contains(ports, port => port.Split(':')[^1].Split('/')[0] == "8080");
    }

    /// <summary>
    /// The API exports where compose runs a collector: the endpoint names a service of this file, on a port that
    /// service exposes, over the protocol that port speaks (the dashboard takes gRPC on 18889, HTTP on 18890).
    /// </summary>
    [Fact]
    public void Compose_points_the_api_s_OpenTelemetry_export_at_a_service_of_the_stack()
    {
        var environment = ApiEnvironment();
        var endpoint = new Uri(environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var services = (YamlMappingNode)ComposeRoot()["services"];
        var collector = services.Children.Where(s => Scalar(s.Key) == endpoint.Host).Select(s => (YamlMappingNode)s.Value).SingleOrDefault();

        Assert.True(collector is not null, $"OTEL_EXPORTER_OTLP_ENDPOINT names {endpoint.Host}, which is no service in docker-compose.yml");
        var exposed = collector.Children.TryGetValue(new YamlScalarNode("expose"), out var expose)
            ? ((YamlSequenceNode)expose).Children.Select(Scalar).ToList()
            : [];
        Assert.Contains(endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), exposed);
        Assert.Equal(endpoint.Port == 18889 ? "grpc" : "http/protobuf", environment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Contains(ApiService()["depends_on"] is YamlMappingNode dependsOn ? dependsOn.Children.Keys.Select(Scalar) : [], name => name == endpoint.Host);
    }

    [Fact]
    public void Compose_publishes_the_metrics_port_the_api_is_told_to_serve()
    {
        var port = ApiEnvironment()["Telemetry__MetricsPort"];
        var ports = ((YamlSequenceNode)ApiService()["ports"]).Children.Select(Scalar).ToList();

        Assert.NotEqual("8080", port);
        Assert.Contains(ports, published => published.EndsWith($"{port}:{port}", StringComparison.Ordinal));
    }

    /// <summary>
    /// The demo signs in: the API's OpenID Connect authority is the idp service, which shares the api container's
    /// network (so http://localhost:PORT is the same issuer for the browser and the API), listens on that port,
    /// is published through the api, and knows the API's client id, secret and callback URIs.
    /// </summary>
    [Fact]
    public void Compose_signs_the_demo_in_at_an_identity_provider_of_the_stack()
    {
        var api = ApiEnvironment();
        var authority = new Uri(api["Authentication__Schemes__OpenIdConnect__Authority"]);
        var (name, provider) = Services().Single(service => ServiceEnvironment(service.Service).ContainsKey("OIDC_CLIENT_ID"));
        var idp = ServiceEnvironment(provider);

        Assert.Equal("localhost", authority.Host);
        Assert.Equal("service:api", Scalar(provider["network_mode"]));
        Assert.Equal(authority.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), idp["OIDC_PORT"]);
        Assert.Contains(((YamlSequenceNode)ApiService()["ports"]).Children.Select(Scalar), published => published.EndsWith($"{authority.Port}:{authority.Port}", StringComparison.Ordinal));
        Assert.Equal("false", api["Authentication__Schemes__OpenIdConnect__RequireHttpsMetadata"]);
        Assert.Equal(api["Authentication__Schemes__OpenIdConnect__ClientId"], idp["OIDC_CLIENT_ID"]);
        Assert.Equal(api["Authentication__Schemes__OpenIdConnect__ClientSecret"], idp["OIDC_CLIENT_SECRET"]);
        Assert.Equal("http://localhost:8080/signin-oidc", idp["OIDC_REDIRECT_URI"]);
        Assert.Equal("http://localhost:8080/signout-callback-oidc", idp["OIDC_POST_LOGOUT_REDIRECT_URI"]);
        Assert.Equal("http://localhost:8080/bff/backchannel", idp["OIDC_BACKCHANNEL_LOGOUT_URI"]);
        Assert.Equal("true", api["Demo__Enabled"]);
        var build = Scalar(provider["build"]);
        Assert.True(File.Exists(Path.Combine(Root, build, "Dockerfile")), $"services.{name}.build names {build}, which has no Dockerfile");
    }

    /// <summary>
    /// No image floats on latest (each is pinned to a version; the Stripe stand-in is built from this repository), and
    /// whatever is published listens on the host's loopback only: the demo signs anyone in, and the stand-in's control
    /// API deletes customers.
    /// </summary>
    [Fact]
    public void Compose_pins_every_image_and_publishes_on_loopback_only()
    {
        foreach (var (name, service) in Services())
        {
            if (service.Children.TryGetValue(new YamlScalarNode("ports"), out var ports))
            {
                Assert.All(((YamlSequenceNode)ports).Children.Select(Scalar), published => Assert.True(published.StartsWith("127.0.0.1:", StringComparison.Ordinal),
                    $"services.{name} publishes {published} on every interface of the host"));
            }
        }

        foreach (var (name, service) in Services())
        {
            if (service.Children.TryGetValue(new YamlScalarNode("image"), out var image))
            {
                var tag = Scalar(image).Split('/')[^1].Split(':').ElementAtOrDefault(1);
                Assert.True(tag is not null && tag != "latest", $"services.{name}.image {Scalar(image)} is not pinned to a version");
            }
        }
    }

    /// <summary>
    /// The api's Stripe is the stand-in's image (tools/StripeStandIn/Dockerfile), not stripe-mock (whose customer
    /// session expired in 2009); and the stand-in's signed events reach the api's webhook with a secret the api takes.
    /// </summary>
    [Fact]
    public void Compose_runs_the_Stripe_stand_in_and_its_events_reach_the_api_signed_with_a_secret_the_api_takes()
    {
        var stripe = Services().Single(service => service.Name == "stripe").Service;
        var build = (YamlMappingNode)stripe["build"];
        var api = ApiEnvironment();
        var standIn = ComposeFile.Environment("stripe");

        Assert.Equal(".", Scalar(build["context"]));
        Assert.Equal("tools/StripeStandIn/Dockerfile", Scalar(build["dockerfile"]));
        Assert.True(File.Exists(Path.Combine(Root, "tools", "StripeStandIn", "Dockerfile")));
        Assert.DoesNotContain(Services(), service => service.Service.Children.TryGetValue(new YamlScalarNode("image"), out var image)
            && Scalar(image).Contains("stripe-mock", StringComparison.Ordinal));
        Assert.Equal("http://stripe:12111", api["Stripe__ApiBase"]);
        Assert.Equal("http://api:8080/stripe/webhook", standIn["STANDIN_WEBHOOK_URL"]);
        Assert.Equal(api["Stripe__WebhookSecrets__0"], standIn["STANDIN_WEBHOOK_SECRET"]);
        Assert.Contains(ApiService()["depends_on"] is YamlMappingNode dependsOn ? dependsOn.Children.Keys.Select(Scalar) : [], name => name == "stripe");
    }

    /// <summary>
    /// The schema is migrated once, by a one-shot service running the api's image with the migrate command and the
    /// api's own database settings, before the api starts; the api then does not migrate itself.
    /// </summary>
    [Fact]
    public void Compose_migrates_in_a_one_shot_step_before_the_api_starts()
    {
        var migrate = Services().Single(service => service.Name == "migrate").Service;
        var api = ApiEnvironment();
        var environment = ComposeFile.Environment("migrate");

        Assert.Equal(".", Scalar(migrate["build"]));
        Assert.Equal(["migrate"], ((YamlSequenceNode)migrate["command"]).Children.Select(Scalar));
        Assert.Equal(api["ConnectionStrings__Customers"], environment["ConnectionStrings__Customers"]);
        Assert.Equal(api["Database__Provider"], environment["Database__Provider"]);
        Assert.Equal("false", api["Database__MigrateOnStartup"]);
        var dependsOn = (YamlMappingNode)ApiService()["depends_on"];
        Assert.Equal("service_completed_successfully", Scalar(((YamlMappingNode)dependsOn["migrate"])["condition"]));
    }

    [Fact]
    public void The_final_image_stage_runs_as_a_non_root_user_on_8080_with_no_secret_in_its_environment()
    {
        var stage = DockerfileFinalStage("Dockerfile");

        var user = stage.LastOrDefault(line => line.StartsWith("USER ", StringComparison.OrdinalIgnoreCase));
        Assert.NotNull(user);
        Assert.DoesNotContain(user[5..].Trim().Split(':')[0], new[] { "root", "0" });
        Assert.Contains(stage, line => line.StartsWith("EXPOSE ", StringComparison.OrdinalIgnoreCase)
            && line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Any(port => port.Split('/')[0] == "8080"));

        // Names set by ENV, and keys inside their values (a connection string's Password=...).
        var environmentNames = stage
            .Where(line => line.StartsWith("ENV ", StringComparison.OrdinalIgnoreCase))
            .SelectMany(line => line[4..].Split([' ', '\t', ';'], StringSplitOptions.RemoveEmptyEntries))
            .Select(word => word.Split('=')[0].Trim('"', '\''))
            .ToList();
        Assert.DoesNotContain(environmentNames, name => SecretNames.Any(secret => name.Contains(secret, StringComparison.OrdinalIgnoreCase)));
    }

    [Theory]
    [InlineData("oidc-provider")]
    [InlineData("StripeStandIn")]
    public void The_demo_tools_images_run_as_a_non_root_user(string tool)
    {
        var user = DockerfileFinalStage(Path.Combine("tools", tool, "Dockerfile"))
            .LastOrDefault(line => line.StartsWith("USER ", StringComparison.OrdinalIgnoreCase));

        Assert.NotNull(user);
        Assert.DoesNotContain(user[5..].Trim().Split(':')[0], new[] { "root", "0" });
    }

    /// <summary>
    /// The API project builds in files from outside src/ (the repository's appsettings.json; the browser kit it embeds and
    /// serves at /bff/customer-sessions.js): the image's build stage copies each of them before it publishes, the build
    /// context does not leave them out, and clients/web's node_modules stays out of it.
    /// </summary>
    [Fact]
    public void The_image_build_copies_every_file_the_api_project_takes_from_outside_src_before_publishing()
    {
        var projectDirectory = Path.Combine(Root, "src", "BffSessions.Api");
        var outside = System.Xml.Linq.XDocument.Load(Path.Combine(projectDirectory, "BffSessions.Api.csproj")).Descendants()
            .Where(item => item.Name.LocalName is "Content" or "EmbeddedResource" or "None")
            .Select(item => (string?)item.Attribute("Include")).OfType<string>()
            .Select(include => Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(projectDirectory, include))).Replace('\\', '/'))
            .Where(path => !path.StartsWith("src/", StringComparison.Ordinal))
            .ToList();
        var instructions = DockerfileInstructions("Dockerfile");
        var publish = instructions.FindIndex(line => line.StartsWith("RUN dotnet publish", StringComparison.OrdinalIgnoreCase));
        Assert.True(publish >= 0, "The Dockerfile publishes nothing.");
        var copied = instructions[..publish]
            .Where(line => line.StartsWith("COPY ", StringComparison.OrdinalIgnoreCase))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Where(word => !word.StartsWith("--", StringComparison.Ordinal)).ToArray())
            .SelectMany(words => words[..^1]) // the last word is the destination
            .ToList();
        var ignored = File.ReadAllLines(Path.Combine(Root, ".dockerignore")).Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#')).ToList();

        Assert.Contains("clients/web/customer-sessions.js", outside);
        Assert.All(outside, path => Assert.True(copied.Any(source => path == source || path.StartsWith(source.TrimEnd('/') + "/", StringComparison.Ordinal)),
            $"BffSessions.Api.csproj builds in {path}, which the Dockerfile does not copy before dotnet publish"));
        Assert.All(outside, path => Assert.False(ignored.Any(pattern => Ignores(pattern, path)), $".dockerignore leaves {path} out of the build context"));
        Assert.True(Ignores(ignored.Single(pattern => pattern.EndsWith("node_modules", StringComparison.Ordinal)), "clients/web/node_modules/typescript/package.json"));
    }

    /// <summary>Whether a .dockerignore pattern (Go's filepath.Match, with ** for any directories) excludes the path or a folder above it.</summary>
    private static bool Ignores(string pattern, string path)
    {
        var expression = "^" + System.Text.RegularExpressions.Regex.Escape(pattern.TrimStart('/'))
            .Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal)
            .Replace(@"\*", "[^/]*", StringComparison.Ordinal)
            .Replace(@"\?", "[^/]", StringComparison.Ordinal) + "(/.*)?$";
        return System.Text.RegularExpressions.Regex.IsMatch(path, expression);
    }

    /// <summary>
    /// <c>A__B__0__C</c> is the setting <c>A:B:0:C</c>. It binds when it is a host variable, a connection string,
    /// or its path without array indexes exists in appsettings.json (an array there accepts whatever is below it).
    /// </summary>
    private static bool BindsToASetting(string variable, JsonElement appsettings)
    {
        // The host's own variables, and OpenTelemetry's standard ones (its SDK reads OTEL_* itself).
        if (variable.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || variable.StartsWith("DOTNET_", StringComparison.Ordinal)
            || variable.StartsWith("OTEL_", StringComparison.Ordinal))
        {
            return true;
        }
        var path = variable.Split("__");
        if (path[0].Equals("ConnectionStrings", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        var node = appsettings;
        foreach (var key in path.Where(key => !key.All(char.IsAsciiDigit)))
        {
            if (node.ValueKind == JsonValueKind.Array)
            {
                return true;
            }
            if (node.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            // Configuration keys are case-insensitive.
            var match = node.EnumerateObject().Where(property => property.Name.Equals(key, StringComparison.OrdinalIgnoreCase)).ToList();
            if (match.Count == 0)
            {
                return false;
            }
            node = match[0].Value;
        }
        return true;
    }

    private static List<string> ApiEnvironmentNames() => ApiEnvironment().Keys.ToList();

    private static Dictionary<string, string> ApiEnvironment() => ServiceEnvironment(ApiService());

    private static IEnumerable<(string Name, YamlMappingNode Service)> Services() =>
        ((YamlMappingNode)ComposeRoot()["services"]).Children.Select(service => (Scalar(service.Key), (YamlMappingNode)service.Value));

    private static Dictionary<string, string> ServiceEnvironment(YamlNode service) =>
        ((YamlMappingNode)service).Children.TryGetValue(new YamlScalarNode("environment"), out var environment) ? environment switch
    {
        YamlMappingNode mapping => mapping.Children.ToDictionary(e => Scalar(e.Key), e => Scalar(e.Value)),
        YamlSequenceNode list => list.Children.Select(entry => Scalar(entry).Split('=', 2)).ToDictionary(e => e[0], e => e.ElementAtOrDefault(1) ?? ""),
        var other => throw new InvalidOperationException($"a service's environment is neither a mapping nor a list: {other}"),
    } : [];

    private static YamlNode ApiService() => ComposeRoot()["services"]["api"];

    private static YamlNode ComposeRoot()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Root, "docker-compose.yml")))
        {
            yaml.Load(reader);
        }
        return yaml.Documents[0].RootNode;
    }

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    /// <summary>A Dockerfile's instructions after its last FROM, continuation lines joined, comments dropped.</summary>
    private static List<string> DockerfileFinalStage(string dockerfile)
    {
        var instructions = DockerfileInstructions(dockerfile);
        var lastFrom = instructions.FindLastIndex(line => line.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase));
        Assert.True(lastFrom >= 0, "The Dockerfile has no FROM.");
        return instructions[(lastFrom + 1)..];
    }

    /// <summary>A Dockerfile's instructions, continuation lines joined, comments dropped.</summary>
    private static List<string> DockerfileInstructions(string dockerfile) =>
        File.ReadAllText(Path.Combine(Root, dockerfile))
            .Replace("\r\n", "\n", StringComparison.Ordinal)
            .Replace("\\\n", " ", StringComparison.Ordinal)
            .Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();
}
