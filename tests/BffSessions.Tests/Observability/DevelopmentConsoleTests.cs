using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Serilog;

namespace BffSessions.Tests.Observability;

/// <summary>
/// The Development console, configured by src/BffSessions.Api/appsettings.Development.json as it stands: the request
/// line ends with the user id and Stripe's request id when the request had them, and with nothing when it did not.
/// </summary>
[Collection(RunsAlone.Name)] // it swaps Console.Out for a moment
public sealed class DevelopmentConsoleTests
{
    [Fact]
    public void The_request_line_shows_the_user_id_and_Stripe_s_request_id_when_there_are_some()
    {
        var settings = new ConfigurationBuilder()
            .AddJsonFile(Repository.PathOf("src", "BffSessions.Api", "appsettings.Development.json"))
            .Build();
        var console = new StringWriter();
        var original = Console.Out;
        Console.SetOut(console);
        try
        {
            using var logger = new LoggerConfiguration().ReadFrom.Configuration(settings).CreateLogger();
            logger.ForContext("UserId", "ada").ForContext("StripeRequestId", "req_1a2b3c")
                .Information("HTTP {RequestMethod} {RequestPath} responded {StatusCode}", "POST", "/api/customer-sessions", 200);
            logger.Information("HTTP {RequestMethod} {RequestPath} responded {StatusCode}", "GET", "/health/ready", 200);
        }
        finally
        {
            Console.SetOut(original);
        }

        var lines = console.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, line => line.EndsWith("] HTTP POST /api/customer-sessions responded 200 user=ada stripe=req_1a2b3c", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith("] HTTP GET /health/ready responded 200", StringComparison.Ordinal));
    }
}
