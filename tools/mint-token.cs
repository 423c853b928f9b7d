#:property PublishAot=false
// (File-based apps default to native AOT, whose analyzers flag reflection-based JSON; with the repository's
// warnings-as-errors that would stop the build. This tool runs with the JIT, so AOT is off.)
// Mints a bearer token for the compose stack (or any instance that trusts an HS256 key), with no package and no
// Stripe or identity account:
//
//   dotnet run tools/mint-token.cs -- ada                          # sub=ada, for docker-compose.yml's demo key
//   dotnet run tools/mint-token.cs -- ada --email ada@example.com --minutes 30
//
// Options: --email <address>, --minutes <1..1440> (default 60), --issuer (default bffsessions-compose),
// --audience (default http://localhost:8080), --key <base64> (default BFF_SIGNING_KEY, else the compose demo key).
// Prints the token alone on stdout, so TOKEN=$(dotnet run tools/mint-token.cs -- ada) works.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

const string DemoKey = "ZGVtby1vbmx5LXNpZ25pbmcta2V5LW5vdC1zZWNyZXQ="; // docker-compose.yml's public demo-only key
const string Usage = "usage: dotnet run tools/mint-token.cs -- <user id> [--email <address>] [--minutes <1..1440>] "
    + "[--issuer <iss>] [--audience <aud>] [--key <base64>]";

string? subject = null;
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (args[i].StartsWith("--", StringComparison.Ordinal))
    {
        if (i + 1 >= args.Length || args[i] is not ("--email" or "--minutes" or "--issuer" or "--audience" or "--key"))
        {
            return Fail($"unknown option or missing value: {args[i]}");
        }
        options[args[i][2..]] = args[++i];
    }
    else if (subject is null)
    {
        subject = args[i];
    }
    else
    {
        return Fail($"one user id only, got a second: {args[i]}");
    }
}

if (string.IsNullOrWhiteSpace(subject))
{
    return Fail("the user id (the token's sub) is missing");
}

var keyText = options.GetValueOrDefault("key") ?? (Environment.GetEnvironmentVariable("BFF_SIGNING_KEY") is { Length: > 0 } fromEnvironment ? fromEnvironment : DemoKey);
byte[] key;
try
{
    key = Convert.FromBase64String(keyText);
}
catch (FormatException)
{
    return Fail("the signing key is not base64 (the same value as Authentication__Schemes__Bearer__SigningKeys__0__Value)");
}
if (key.Length < 32)
{
    return Fail($"the signing key has {key.Length} bytes; HS256 needs at least 32, as the service does");
}

var minutes = 60;
if (options.TryGetValue("minutes", out var minutesText)
    && (!int.TryParse(minutesText, NumberStyles.None, CultureInfo.InvariantCulture, out minutes) || minutes is < 1 or > 1440))
{
    return Fail("--minutes must be a whole number from 1 to 1440");
}

var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
var claims = new Dictionary<string, object>
{
    ["sub"] = subject,
    ["iss"] = options.GetValueOrDefault("issuer") ?? "bffsessions-compose",
    ["aud"] = options.GetValueOrDefault("audience") ?? "http://localhost:8080",
    ["iat"] = now,
    ["nbf"] = now,
    ["exp"] = now + (minutes * 60L),
    ["jti"] = Guid.NewGuid().ToString("N"),
};
if (options.TryGetValue("email", out var email))
{
    claims["email"] = email;
    claims["email_verified"] = true;
}

var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "HS256", ["typ"] = "JWT" }));
var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
var signature = Base64Url(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes($"{header}.{payload}")));
Console.WriteLine($"{header}.{payload}.{signature}");
return 0;

static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

static int Fail(string message)
{
    Console.Error.WriteLine($"mint-token: {message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
