using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BffSessions.Api.Payments;
using BffSessions.Api.Webhooks;
using BffSessions.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BffSessions.Tests.Webhooks;

/// <summary>
/// Slow senders: a Stripe-Signature shaped right and timed now passes the check before the body, so a stranger who
/// sends one byte of the body and then nothing holds a turn to read webhook bodies. Sixteen such connections from one
/// address, opened again as soon as one is cut, once took every turn: 20 of 20 of Stripe's own deliveries got 503
/// (this test with the share per address and the minimum rate turned off still gets that).
/// On a real Kestrel, so that each connection has the client address it comes from (the loopback network's
/// 127.0.0.0/8: the attackers come from 127.0.0.2, Stripe from 127.0.0.1).
/// </summary>
public sealed class WebhookSlowSenderTests(ITestOutputHelper output) : StandInTest
{
    private const string Secret = "whsec_slow_sender_destination";
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    /// <summary>The defaults as shipped, unless a test says otherwise: every webhook setting but the secret is left alone.</summary>
    private ApiFactory NewApi(string? bodyTimeout = null)
    {
        var settings = new Dictionary<string, string?> { ["Stripe:WebhookSecrets:0"] = Secret };
        if (bodyTimeout is not null)
        {
            settings["Stripe:WebhookBodyTimeout"] = bodyTimeout;
        }

        return new(Stripe, Logs, settings: settings);
    }

    [Fact]
    public async Task Slow_senders_from_one_address_holding_every_turn_do_not_keep_Stripes_deliveries_out()
    {
        await using var api = NewApi();
        var port = api.StartKestrel().Port;
        using var stripe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        using var stop = new CancellationTokenSource();
        var attackers = Enumerable.Range(0, new StripeOptions().WebhookConcurrency).Select(_ => HoldTurnsAsync(Attacker, port, stop.Token)).ToList();
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            var body = StripeEvents.CustomerDeleted("cus_under_attack_" + i.ToString(CultureInfo.InvariantCulture));
            using var delivered = await StripeEvents.DeliverAsync(stripe, body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret));
            statuses.Add(delivered.StatusCode);
            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        await stop.CancelAsync();
        var attacks = (await Task.WhenAll(attackers)).SelectMany(e => e).ToList();
        var endings = attacks.GroupBy(e => e).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}");
        var tally = string.Join(", ", statuses.GroupBy(s => (int)s).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"));
        output.WriteLine($"Stripe's deliveries: {tally}; the attackers' connections ended: {string.Join(", ", endings)}");

        Assert.True(statuses.All(s => s == HttpStatusCode.OK), $"Stripe's deliveries under the attack: {tally}");
        // The attack was on: beyond their share the attackers were turned away (503), and the turns they had were held
        // until cut off (408) or the end ("held"); nothing else answered them.
        Assert.All(attacks, e => Assert.Contains(e, new[] { "503", "408", "held", "closed" }));
        Assert.Contains("503", attacks);
        Assert.Contains(attacks, e => e is "408" or "held");
    }

    /// <summary>
    /// One byte and then nothing, with the body time raised to 60 s: the minimum rate cuts it off once its 5 s of grace
    /// are up, not at the body's whole time. The bounds are loose on purpose (a loaded machine only makes it later):
    /// not before the grace, and well before the body time.
    /// </summary>
    [Fact]
    public async Task A_body_that_stops_after_its_first_byte_is_cut_off_after_the_grace_not_the_whole_body_time()
    {
        await using var api = NewApi(bodyTimeout: "00:01:00");
        var port = api.StartKestrel().Port;
        var clock = Stopwatch.StartNew();
        using var socket = await ConnectAsync(Attacker, port);

        var status = await ReadStatusAsync(socket, CancellationToken.None);
        clock.Stop();

        output.WriteLine($"answered {status} after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal("408", status);
        Assert.InRange(clock.Elapsed, WebhookIntake.MinRateGrace - TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Stripe sends its body at once, but a lost TCP segment holds the rest back until it is sent again (a second or
    /// more). A grace of one second cut such a delivery off (408, and Stripe tries again later); now it is read. Here
    /// the rest of the body comes 2 s after its first half.
    /// </summary>
    [Fact]
    public async Task A_delivery_whose_body_stalls_for_a_lost_segment_is_read_not_cut_off()
    {
        await using var api = NewApi();
        var port = api.StartKestrel().Port;
        var body = Encoding.UTF8.GetBytes(StripeEvents.CustomerDeleted("cus_stalled_segment", padding: new string('x', 8 * 1024)));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);

        await socket.SendAsync(Encoding.ASCII.GetBytes(
            "POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            $"Content-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\n" +
            $"Stripe-Signature: {StripeEvents.Signature(Encoding.UTF8.GetString(body), DateTimeOffset.UtcNow, Secret)}\r\n\r\n"), SocketFlags.None);
        await socket.SendAsync(body.AsMemory(0, body.Length / 2), SocketFlags.None);
        await Task.Delay(TimeSpan.FromSeconds(2));
        await socket.SendAsync(body.AsMemory(body.Length / 2), SocketFlags.None);
        var status = await ReadStatusAsync(socket, CancellationToken.None);

        Assert.Equal("200", status);
    }

    /// <summary>
    /// One attacker: a connection from <paramref name="from"/> that sends its headers and one byte of a 1,000-byte body,
    /// then waits for the answer; when it gets one (or the connection closes) it opens the next at once, until
    /// <paramref name="stop"/>. Answers how each connection ended.
    /// </summary>
    private static async Task<List<string>> HoldTurnsAsync(IPAddress from, int port, CancellationToken stop)
    {
        var endings = new List<string>();
        while (!stop.IsCancellationRequested)
        {
            using var socket = await ConnectAsync(from, port);
            var ending = await ReadStatusAsync(socket, stop);
            endings.Add(ending);
            if (ending == "503")
            {
                // Turned away: a moment's pause, so that two cores are not spent on the attack alone.
                await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
            }
        }

        return endings;
    }

    /// <summary>A connection from <paramref name="from"/> that has sent a fresh, forged delivery's headers and the first byte of its body.</summary>
    private static async Task<Socket> ConnectAsync(IPAddress from, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            "POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n" +
            $"Stripe-Signature: t={now},v1={new string('0', 64)}\r\n\r\n{{"), SocketFlags.None);
        return socket;
    }

    /// <summary>The status code of the answer on <paramref name="socket"/>; "closed" if it ends without one, "held" if still open at <paramref name="stop"/>.</summary>
    private static async Task<string> ReadStatusAsync(Socket socket, CancellationToken stop)
    {
        var received = new List<byte>();
        var buffer = new byte[1024];
        try
        {
            while (received.Count < 12)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop);
                if (read == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (OperationCanceledException)
        {
            return "held";
        }
        catch (SocketException)
        {
        }

        // "HTTP/1.1 503 …"
        return received.Count >= 12 ? Encoding.ASCII.GetString(received.ToArray(), 9, 3) : "closed";
    }
}
