using Microsoft.Extensions.Options;

namespace BffSessions.Hosting;

/// <summary>A setting that makes the service unable to start: its message names the setting and says what to do.</summary>
public sealed class SettingsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A service that cannot start because of a setting says so once, in one line that names the setting, and exits with
/// code 1: no stack trace, no second copy from the host's own log, no abort (134).
/// </summary>
public static class SettingsFailures
{
    private static int s_registered;

    /// <summary>From here on, a <see cref="SettingsException"/> or an invalid option ends the process that way.</summary>
    public static IHostApplicationBuilder StopCleanlyOnSettingsErrors(this IHostApplicationBuilder builder)
    {
        // Once per process: test hosts are built many times in one.
        if (Interlocked.Exchange(ref s_registered, 1) == 1)
        {
            return builder;
        }

        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (e.ExceptionObject is Exception exception && MessageOf(exception) is { } message)
            {
                Console.Error.WriteLine($"Start-up stopped: {message}");
                Environment.Exit(1);
            }
        };
        return builder;
    }

    /// <summary>
    /// Checks every setting registered with ValidateOnStart now, before the endpoints read them and before the host
    /// starts (whose own log line would repeat the failure).
    /// </summary>
    public static WebApplication ValidateSettings(this WebApplication app)
    {
        app.Services.GetService<IStartupValidator>()?.Validate();
        return app;
    }

    /// <summary>The one line for a settings failure (each failure once), or null for any other exception.</summary>
    public static string? MessageOf(Exception exception) =>
        FailuresOf(exception) is { Count: > 0 } failures ? string.Join(" ", failures.Distinct()) : null;

    private static List<string> FailuresOf(Exception exception) => exception switch
    {
        SettingsException settings => [settings.Message],
        OptionsValidationException options => options.Failures.ToList(),
        AggregateException aggregate when aggregate.InnerExceptions.All(e => FailuresOf(e).Count > 0) =>
            aggregate.InnerExceptions.SelectMany(FailuresOf).ToList(),
        _ => [],
    };
}
