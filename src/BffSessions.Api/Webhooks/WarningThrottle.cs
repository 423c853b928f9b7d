namespace BffSessions.Api.Webhooks;

/// <summary>
/// When a warning that strangers can cause at will is due: the first time, then at most once per
/// <see cref="Interval"/>, with how many times it happened since the line before. One warning per delivery turned away
/// let a retry loop write 85 MB of logs in 30 s; the metric still counts every one.
/// </summary>
public sealed class WarningThrottle(TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _count;
    private long? _lastWritten;

    /// <summary>Counts one; true when a line is due, with the count since the last line (this one included).</summary>
    public bool Count(out long since)
    {
        lock (_lock)
        {
            _count++;
            var now = time.GetTimestamp();
            if (_lastWritten is { } last && time.GetElapsedTime(last, now) < Interval)
            {
                since = 0;
                return false;
            }

            _lastWritten = now;
            since = _count;
            _count = 0;
            return true;
        }
    }
}
