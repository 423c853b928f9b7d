namespace BffSessions.StandIn;

/// <summary>An answer as sent: status, body and the headers beyond Content-Type; <see cref="Drop"/> sends nothing at all.</summary>
public sealed record StandInAnswer(int Status, byte[] Body, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    /// <summary>The connection drops before any answer: the caller cannot tell what happened.</summary>
    public bool Drop { get; init; }

    public StandInAnswer With(string header, string value) => this with { Headers = [.. Headers, KeyValuePair.Create(header, value)] };
}

/// <summary>
/// Stripe's idempotency layer (docs.stripe.com/idempotency). API v1: the status and body of the first request made
/// with a key are saved once the endpoint starts executing, "regardless of whether it succeeds or fails", and replayed
/// for every later request with that key ("including 500 errors"), until the key is pruned (at least 24 hours). A key
/// reused with other parameters is a 400 <c>idempotency_error</c>; a key whose first request is still executing is a
/// 409. Nothing is saved when the parameters fail validation, or for a 409 or a rate-limit 429: those may be retried.
/// API v2: keys last 30 days, and a retry finishes the work a failed request left undone: what was done is kept, a
/// failure is not.
/// </summary>
internal sealed class IdempotencyStore(StandInOptions options)
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<(DateTimeOffset At, string Id)> _byAge = new();
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>What a request with <paramref name="key"/> meets: a replay, a refusal, or the go-ahead to execute.</summary>
    public Outcome Begin(string account, string key, string fingerprint, bool v2)
    {
        var id = account + "\n" + key;
        var now = options.Time.GetUtcNow();
        lock (_lock)
        {
            Prune(now);
            if (_entries.TryGetValue(id, out var entry))
            {
                if (entry.Fingerprint != fingerprint)
                {
                    return new Outcome(OutcomeKind.Mismatch, null);
                }

                if (entry.Answer is null)
                {
                    return new Outcome(OutcomeKind.InFlight, null);
                }

                return new Outcome(OutcomeKind.Replay, entry.Answer);
            }

            _entries[id] = new Entry(fingerprint, now, v2);
            return new Outcome(OutcomeKind.Execute, null, id);
        }
    }

    /// <summary>Saves <paramref name="answer"/> for the key, or (null) forgets the key as if it had never been used.</summary>
    public void Complete(string id, StandInAnswer? answer)
    {
        var now = options.Time.GetUtcNow();
        lock (_lock)
        {
            if (answer is null)
            {
                _entries.Remove(id);
                return;
            }

            if (_entries.TryGetValue(id, out var entry))
            {
                entry.Answer = answer;
                entry.StoredAt = now;
                _byAge.Enqueue((now, id));
            }
        }
    }

    private void Prune(DateTimeOffset now)
    {
        while (_byAge.TryPeek(out var oldest))
        {
            if (!_entries.TryGetValue(oldest.Id, out var entry) || entry.StoredAt != oldest.At)
            {
                _byAge.Dequeue();
                continue;
            }

            var retention = entry.V2 ? options.V2IdempotencyRetention : options.IdempotencyRetention;
            if (now - oldest.At < retention)
            {
                // Entries are queued in the order they were stored; a v2 entry (kept longer) may hold up the v1 ones
                // behind it for a while, which only keeps them longer than the minimum: still Stripe's rule.
                return;
            }

            _byAge.Dequeue();
            _entries.Remove(oldest.Id);
        }
    }

    private sealed class Entry(string fingerprint, DateTimeOffset at, bool v2)
    {
        public string Fingerprint { get; } = fingerprint;

        public bool V2 { get; } = v2;

        public DateTimeOffset StoredAt { get; set; } = at;

        public StandInAnswer? Answer { get; set; }
    }

    public enum OutcomeKind
    {
        Execute,
        Replay,
        Mismatch,
        InFlight,
    }

    public sealed record Outcome(OutcomeKind Kind, StandInAnswer? Answer, string? Id = null);
}
