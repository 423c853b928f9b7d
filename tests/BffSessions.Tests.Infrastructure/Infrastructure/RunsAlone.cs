namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Tests that must not share the machine or the process with others run here, one at a time, after every parallel
/// collection: the load test fills both cores (beside it, tests that measure time would measure it instead), and the
/// telemetry tests listen to process-wide ActivitySources and Meters (beside them, other hosts' spans would arrive).
/// </summary>
/// <remarks>Each test project declares the collection (xunit looks in the test assembly only); test projects run one after another.</remarks>
public static class RunsAlone
{
    public const string Name = "Runs alone";
}
