using BffSessions.Api.Payments;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Serilog;

namespace BffSessions.Tests.Observability;

/// <summary>
/// The Development console as src/BffSessions.Api/appsettings.Development.json configures it, given the request line
/// as the service writes it (its template and property names are the service's own constants): the line ends with
/// the user id and Stripe's request id as JSON, so neither can forge a field of the line; without them it ends as is.
/// </summary>
[Collection(RunsAlone.Name)] // it swaps Console.Out for a moment
public sealed class DevelopmentConsoleTests
{
    [Fact]
    public void The_request_line_shows_the_user_id_and_Stripe_s_request_id_when_there_are_some()
    {
        var lines = ConsoleLines(logger =>
        {
            logger.ForContext(LoggingExtensions.UserIdProperty, "ada").ForContext(StripeMetrics.RequestIdProperty, "req_1a2b3c")
                .Information(LoggingExtensions.RequestMessageTemplate, "POST", "/api/customer-sessions", 200, 12.5);
            logger.ForContext(LoggingExtensions.UserIdProperty, "ada stripe=req_forged responded 200")
                .Information(LoggingExtensions.RequestMessageTemplate, "POST", "/api/customer-sessions", 400, 1.5);
            logger.Information(LoggingExtensions.RequestMessageTemplate, "GET", "/health/ready", 200, 0.5);
        });

        Assert.Contains(lines, line => line.EndsWith("] HTTP POST /api/customer-sessions responded 200 in 12.5000 ms {\"user\":\"ada\",\"stripe\":\"req_1a2b3c\"}", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith("] HTTP POST /api/customer-sessions responded 400 in 1.5000 ms {\"user\":\"ada stripe=req_forged responded 200\"}", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith("] HTTP GET /health/ready responded 200 in 0.5000 ms", StringComparison.Ordinal));
    }

    private static string[] ConsoleLines(Action<Serilog.ILogger> log)
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
            log(logger);
        }
        finally
        {
            Console.SetOut(original);
        }

        return console.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
