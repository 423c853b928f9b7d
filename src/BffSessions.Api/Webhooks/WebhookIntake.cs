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
/// </summary>
public sealed class WebhookIntake : IDisposable
{
    private readonly ConcurrencyLimiter _turns;
    private readonly ArrayPool<byte> _buffers;
    private readonly TimeProvider _time;

    public WebhookIntake(IOptions<StripeOptions> options, TimeProvider time)
    {
        var concurrency = options.Value.WebhookConcurrency;
        // No queue: a delivery that waited would hold its connection, and Kestrel its buffered bytes, for nothing.
        _turns = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = concurrency, QueueLimit = 0 });
        // A pool of its own, kept to one buffer per turn in each size: the shared pool keeps up to 32 per core.
        _buffers = ArrayPool<byte>.Create((int)StripeWebhooks.MaxBodyBytes, concurrency);
        _time = time;
        Timeout = options.Value.WebhookBodyTimeout;
    }

    /// <summary>How long a body may take to arrive.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>A turn to read one body, to be disposed when done with it; null when every turn is taken.</summary>
    public IDisposable? TryTakeTurn()
    {
        var turn = _turns.AttemptAcquire();
        if (turn.IsAcquired)
        {
            return turn;
        }

        turn.Dispose();
        return null;
    }

    /// <summary>
    /// The body as received, bytes and all, in a pooled buffer that goes back when the result is disposed; null when it
    /// did not arrive within <see cref="Timeout"/> (what arrived is dropped). The middleware has refused a declared
    /// length over <see cref="StripeWebhooks.MaxBodyBytes"/>; a body without one is cut there.
    /// </summary>
    public async Task<ReceivedBody?> ReadAsync(HttpRequest request, CancellationToken aborted)
    {
        using var deadline = new CancellationTokenSource(Timeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(aborted, deadline.Token);
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
            }

            return new ReceivedBody(_buffers, buffer, length);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !aborted.IsCancellationRequested)
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
