namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Whether the tests run in CI, where a missing prerequisite fails a test instead of skipping it: CI set to anything
/// but empty, false or 0. Runners differ (CI=true, CI=1, CI=yes): a test that skips there would let the run go green
/// without it. .ci/run also fails the run on any skipped test, whatever this says.
/// </summary>
public static class RunsInCi
{
    public static bool Now => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } value
        && !value.Equals("false", StringComparison.OrdinalIgnoreCase) && value != "0";
}
