namespace BffSessions.Api.Webhooks;

/// <summary>
/// When a warning that strangers can cause at will is due: the first time, then at most once per
/// <see cref="Interval"/>, with how many times it happened since the line before. One warning per delivery turned away
/// let a retry loop write 85 MB of logs in 30 s; the metric still counts every one.
/// <para>
/// Nothing counted is lost, but the tail of a burst waits: what came within <see cref="Interval"/> of the last line is
/// written with the next line, whenever the next one comes (10 s later or a week later), and a burst followed by
/// silence has no line of its own until then. No timer writes it sooner: the metric has every one as it happens.
/// </para>
/// </summary>
public sealed class WarningThrottle(TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _count;
    private long? _lastWritten;

    /// <summary>
    /// Counts one; true when a line is due, with the count since the last line (this one and every one held back since
    /// included).
    /// </summary>
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
