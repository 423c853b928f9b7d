using System.Buffers;
using System.Threading.RateLimiting;
using BffSessions.Api.Payments;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Webhooks;

/// <summary>
/// How webhook bodies are taken in. Until its signature is checked a body is anyone's, so what strangers can make the
/// service hold is bounded: at most <see cref="StripeOptions.WebhookConcurrency"/> bodies are read at once, each into a
/// pooled buffer of at most <see cref="StripeWebhooks.MaxBodyBytes"/>, and each must arrive within
/// <see cref="StripeOptions.WebhookBodyTimeout"/>. Hundreds of connections trickling 1 MB bodies once held 1 MiB each
/// for as long as they stayed open; now they hold at most concurrency × 1 MiB between them.
/// <para>
/// The turns are also shared out: one client address holds at most <see cref="StripeOptions.WebhookConcurrencyPerAddress"/>
/// of them, and a body that falls behind <see cref="StripeOptions.WebhookBodyMinRate"/> after its first
/// <see cref="MinRateGrace"/> is cut off then. Sixteen connections from one address, each sending one byte of its body and opened again when cut, once
/// held every turn for the whole body time: 20 of 20 of Stripe's deliveries got 503.
/// </para>
/// </summary>
public sealed class WebhookIntake : IDisposable
{
    /// <summary>
    /// How long a body may take before <see cref="StripeOptions.WebhookBodyMinRate"/> applies. Stripe sends its few
    /// kilobytes at once, but one lost TCP segment stalls the rest until it is sent again (a retransmission timeout of
    /// 1 s or more, doubling on each loss): one second cut such deliveries off; five leaves room for a loss or two.
    /// </summary>
    public static readonly TimeSpan MinRateGrace = TimeSpan.FromSeconds(5);

    private readonly ConcurrencyLimiter _turns;
    private readonly Dictionary<string, int> _turnsByAddress = new(StringComparer.Ordinal);
    private readonly int _perAddress;
    private readonly ArrayPool<byte> _buffers;
    private readonly TimeProvider _time;

    public WebhookIntake(IOptions<StripeOptions> options, TimeProvider time)
    {
        var concurrency = options.Value.WebhookConcurrency;
        // No queue: a delivery that waited would hold its connection, and Kestrel its buffered bytes, for nothing.
        _turns = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = concurrency, QueueLimit = 0 });
        _perAddress = options.Value.WebhookConcurrencyPerAddress;
        // A pool of its own, kept to one buffer per turn in each size: the shared pool keeps up to 32 per core.
        _buffers = ArrayPool<byte>.Create((int)StripeWebhooks.MaxBodyBytes, concurrency);
        _time = time;
        Timeout = options.Value.WebhookBodyTimeout;
        MinRate = options.Value.WebhookBodyMinRate;
        Refused = new WarningThrottle(time);
        TurnedAway = new WarningThrottle(time);
        CutOff = new WarningThrottle(time);
    }

    /// <summary>When to warn of deliveries refused for their signature: a stranger can cause one per request, with no header at all.</summary>
    public WarningThrottle Refused { get; }

    /// <summary>When to warn of deliveries turned away unread: a stranger can cause one per request.</summary>
    public WarningThrottle TurnedAway { get; }

    /// <summary>When to warn of bodies cut off: a stranger can cause one a second per turn.</summary>
    public WarningThrottle CutOff { get; }

    /// <summary>How long a body may take to arrive.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Bytes a second a body must keep up after <see cref="MinRateGrace"/>; 0: no such check.</summary>
    public int MinRate { get; }

    /// <summary>
    /// A turn to read one body from <paramref name="client"/>, to be disposed when done with it; null when every turn is
    /// taken, or that address's share of them.
    /// </summary>
    public IDisposable? TryTakeTurn(System.Net.IPAddress? client)
    {
        var turn = _turns.AttemptAcquire();
        if (!turn.IsAcquired)
        {
            turn.Dispose();
            return null;
        }

        if (client is null)
        {
            // No address to share by (a Unix socket, the test host): only the turns themselves bound it.
            return turn;
        }

        var address = AddressKey(client);
        lock (_turnsByAddress)
        {
            // Only addresses holding a turn have an entry: never more entries than turns.
            var held = _turnsByAddress.GetValueOrDefault(address);
            if (held >= _perAddress)
            {
                turn.Dispose();
                return null;
            }

            _turnsByAddress[address] = held + 1;
        }

        return new AddressTurn(this, address, turn);
    }

    /// <summary>
    /// Who shares a client's turns: an IPv4 address, or an IPv6 client's /64 (one subscriber's network: whoever has one
    /// address there has them all).
    /// </summary>
    private static string AddressKey(System.Net.IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        if (client.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return client.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        client.TryWriteBytes(bytes, out _);
        return Convert.ToHexString(bytes[..8]) + "/64";
    }

    private void GiveBack(string address)
    {
        lock (_turnsByAddress)
        {
            if (_turnsByAddress[address] == 1)
            {
                _turnsByAddress.Remove(address);
            }
            else
            {
                _turnsByAddress[address]--;
            }
        }
    }

    /// <summary>
    /// The body as received, bytes and all, in a pooled buffer that goes back when the result is disposed; null when it
    /// did not arrive within <see cref="Timeout"/>, or fell behind <see cref="MinRate"/> after <see cref="MinRateGrace"/>
    /// (what arrived is dropped). The middleware has refused a declared
    /// length over <see cref="StripeWebhooks.MaxBodyBytes"/>; a body without one is cut there.
    /// </summary>
    public async Task<ReceivedBody?> ReadAsync(HttpRequest request, CancellationToken aborted)
    {
        var started = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(Timeout, _time);
        // Falling behind MinRate: by then the body must hold MinRate × (its time − the grace) bytes. Moved on by each read.
        using var pace = new CancellationTokenSource(MinRate > 0 ? MinRateGrace : Timeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(aborted, deadline.Token, pace.Token);
        var expected = request.ContentLength is { } declared ? (int)Math.Min(declared, StripeWebhooks.MaxBodyBytes) : (int)StripeWebhooks.MaxBodyBytes;
        var buffer = _buffers.Rent(Math.Max(expected, 1));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    // Full: only a body without a declared length gets here, and one more byte is one too many.
                    if (await request.Body.ReadAsync(new byte[1], either.Token) > 0)
                    {
                        throw new BadHttpRequestException("The webhook body is over its cap.", StatusCodes.Status413PayloadTooLarge);
                    }

                    break;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), either.Token);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (MinRate > 0)
                {
                    var behindAt = MinRateGrace + TimeSpan.FromSeconds((double)length / MinRate) - _time.GetElapsedTime(started);
                    pace.CancelAfter(behindAt > TimeSpan.Zero ? behindAt : TimeSpan.Zero);
                }
            }

            return new ReceivedBody(_buffers, buffer, length);
        }
        catch (OperationCanceledException) when ((deadline.IsCancellationRequested || pace.IsCancellationRequested) && !aborted.IsCancellationRequested)
        {
            _buffers.Return(buffer, clearArray: true);
            return null;
        }
        catch
        {
            _buffers.Return(buffer, clearArray: true);
            throw;
        }
    }

    public void Dispose() => _turns.Dispose();

    /// <summary>A turn, counted against its address until it is given back.</summary>
    private sealed class AddressTurn(WebhookIntake intake, string address, RateLimitLease turn) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                intake.GiveBack(address);
                turn.Dispose();
            }
        }
    }

    /// <summary>A body read into a pooled buffer; disposing gives the buffer back (cleared: it may hold a customer's details).</summary>
    public sealed class ReceivedBody(ArrayPool<byte> pool, byte[] buffer, int length) : IDisposable
    {
        private byte[]? _buffer = buffer;

        public ReadOnlySpan<byte> Bytes => (_buffer ?? throw new ObjectDisposedException(nameof(ReceivedBody))).AsSpan(0, length);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _buffer, null) is { } returned)
            {
                pool.Return(returned, clearArray: true);
            }
        }
    }
}
