using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using BffSessions.Api.Payments;
using BffSessions.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BffSessions.Tests.Webhooks;

/// <summary>
/// Slow bodies from many connections: hundreds of connections each declare a body of about 1 MB at
/// <c>/stripe/webhook</c>, with a Stripe-Signature shaped right and timed now (only the body could show it forged),
/// send nearly all of it at once and then trickle the rest, fast enough for Kestrel's minimum data rate. Before the
/// fix each body was buffered whole, so the process held about 1 MiB per connection for as long as they stayed open
/// (0.4 to 2.45 GB for 1,500). The service runs as a process of its own, in Production, on a real Kestrel, so the
/// memory measured is its resident set and nothing else's.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class WebhookMemoryTests(ITestOutputHelper output) : StandInTest
{
    private const string Secret = "whsec_memory_test_destination";
    private const int Connections = 400;
    private const int DeclaredBytes = 1_000_000;
    private const int SentAtOnce = DeclaredBytes - 40_000;
    private const int TrickleBytes = 512;
    private static readonly TimeSpan TrickleEvery = TimeSpan.FromMilliseconds(250); // 2 KB/s: over Kestrel's 240 B/s minimum
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(12);

    /// <summary>
    /// What the attack may add to the resident set's high-water mark. Two parts, measured apart on a two-core VM:
    /// Kestrel taking in and draining 400 bursts of 1 MB that the service never reads (with t=1, refused unread):
    /// +42 to +64 MiB, nothing of the service's own; and each body read at once, about 1.5 MiB (a pooled 1 MiB buffer and
    /// what Kestrel buffers in front of it): Stripe:WebhookConcurrency 1, 16 and 64 gave +42, +61 to +70 and +135 MiB.
    /// 128 MiB is the default 16 turns with room to spare for the GC's slack, and a quarter of what buffering every
    /// body cost (+494 to +517 MiB without the fix; +447 MiB with the time limit but no bound on turns). It is a bound on memory, not on time, so a slow machine does not move it.
    /// </summary>
    private const long BoundBytes = 128L * 1024 * 1024;

    /// <summary>Bodies read at once: the default of Stripe:WebhookConcurrency, which this test leaves as shipped.</summary>
    private static readonly int Turns = new StripeOptions().WebhookConcurrency;

    /// <summary>The default Stripe:WebhookBodyTimeout.</summary>
    private static readonly TimeSpan BodyTimeout = new StripeOptions().WebhookBodyTimeout;

    private readonly string _directory = Directory.CreateTempSubdirectory("bffsessions-webhook-memory-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Hundreds_of_slow_unsigned_bodies_leave_memory_bounded_and_sessions_served()
    {
        await using var service = ServiceProcess.Start(await EnvironmentAsync());
        var address = await service.ReadyAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("memory-user"));
        // Warm up what an ordinary day uses: a session, a signed event, a few refusals.
        using (var warmSession = await SessionAsync(http))
        using (var warmDelivery = await SignedDeliveryAsync(http, "cus_warm_up"))
        {
            Assert.Equal(HttpStatusCode.OK, warmSession.StatusCode);
            Assert.Equal(HttpStatusCode.OK, warmDelivery.StatusCode);
        }

        for (var i = 0; i < 20; i++)
        {
            using var refused = await StripeEvents.DeliverAsync(http, StripeEvents.CustomerDeleted("cus_x"), $"t={Now()},v1={new string('0', 64)}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = Status(service, "VmRSS");

        using var stop = new CancellationTokenSource(Hold);
        var sampling = SampleAsync(service, stop.Token);
        var payload = new byte[DeclaredBytes];
        Array.Fill(payload, (byte)' ');
        var attack = Enumerable.Range(0, Connections).Select(i => SlowBodyAsync(address.Port, Sender(i), payload, stop.Token)).ToList();

        // Meanwhile, ordinary traffic is served.
        await Task.Delay(TimeSpan.FromSeconds(2));
        using var ready = await http.GetAsync("/health/ready");
        using var session = await SessionAsync(http);
        var servedWhileHeld = !stop.IsCancellationRequested;

        var endings = await Task.WhenAll(attack);
        var peak = await sampling;
        var after = Status(service, "VmRSS");
        // The high-water mark, not the samples: no peak between two samples escapes it.
        var highWater = Status(service, "VmHWM");
        using var signedAfterwards = await SignedDeliveryAsync(http, "cus_after_the_attack");

        var tally = endings.GroupBy(e => e).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}");
        output.WriteLine($"resident before {before / 1048576} MiB, largest sample while held {peak / 1048576} MiB, after {after / 1048576} MiB, " +
                         $"high-water mark {highWater / 1048576} MiB (+{(highWater - before) / 1048576} MiB); connections ended: {string.Join(", ", tally)}");

        Assert.True(highWater - before < BoundBytes, $"the attack added {(highWater - before) / 1048576} MiB, over the bound of {BoundBytes / 1048576} MiB");
        Assert.True(servedWhileHeld, "the ordinary requests were not answered while the attack was held");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        // The connections beyond the bound were turned away at once (503), the ones read were cut off (408); none
        // was kept reading to its end, and nothing else answered them.
        Assert.All(endings, e => Assert.Contains(e, new[] { "503", "408", "closed" }));
        Assert.True(endings.Count(e => e == "503") >= Connections / 2, string.Join(", ", tally));
        Assert.Contains("408", endings);
        // No more bodies were read than there are turns, each turn lasting at most the body's time.
        Assert.InRange(endings.Count(e => e == "408"), 1, Turns * (int)Math.Ceiling(Hold / BodyTimeout));
        // The turns were given back: Stripe's next delivery is taken.
        Assert.Equal(HttpStatusCode.OK, signedAfterwards.StatusCode);
    }

    /// <summary>
    /// The same bound for bodies that arrive whole and at once: many clients, each from an address of its own, send
    /// forged events of about 1 MiB under a fresh header that only the body can show forged. Each is refused (400), or
    /// turned away (503) while the turns are taken, and costs its pooled buffer and a hash, not a copy of its own:
    /// Stripe.net's UTF-16 string of the body and its copy to sign, and a parse of it all for the id it claims, once
    /// made each refusal allocate about 5 MiB. Allocation is counted by the runtime's own counter (the process's
    /// <c>dotnet.gc.heap.total_allocated</c>, on the metrics port), so the bound does not depend on when the GC runs.
    /// </summary>
    [Fact]
    public async Task Whole_forged_bodies_of_1_MiB_from_many_clients_at_once_are_refused_without_a_copy_each_and_the_service_stays_up()
    {
        const int Clients = 64;
        const int BodiesEach = 4;
        var metricsPort = FreePort();
        var environment = await EnvironmentAsync();
        environment["Telemetry__MetricsPort"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        await using var service = ServiceProcess.Start(environment);
        var address = await service.ReadyAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.Token("memory-user"));
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort.ToString(CultureInfo.InvariantCulture)}"), Timeout = TimeSpan.FromSeconds(30) };
        var forged = Encoding.UTF8.GetBytes(StripeEvents.CustomerDeleted("cus_forged", eventId: "evt_forged_whole", padding: new string('x', 1_040_000)));
        Assert.InRange(forged.Length, 1_000_000, Api.Webhooks.StripeWebhooks.MaxBodyBytes);
        // Warm up what the flood itself uses (Kestrel's buffers grow to what many connections at once need), then count.
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => WholeBodyAsync(address.Port, Sender(i), forged)));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var allocatedBefore = await AllocatedAsync(metrics);

        var flood = Enumerable.Range(0, Clients).Select(async i =>
        {
            var statuses = new List<string>();
            for (var body = 0; body < BodiesEach; body++)
            {
                statuses.Add(await WholeBodyAsync(address.Port, Sender(i), forged));
            }

            return statuses;
        }).ToList();
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        using var ready = await http.GetAsync("/health/ready");
        using var session = await SessionAsync(http);
        var endings = (await Task.WhenAll(flood)).SelectMany(s => s).ToList();
        await Task.Delay(TimeSpan.FromSeconds(1)); // past the exporter's cache of the last scrape
        var allocated = await AllocatedAsync(metrics) - allocatedBefore;
        using var signedAfterwards = await SignedDeliveryAsync(http, "cus_after_the_flood");

        var refused = endings.Count(e => e == "400");
        var tally = string.Join(", ", endings.GroupBy(e => e).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}"));
        output.WriteLine($"{endings.Count} forged bodies of {forged.Length} bytes: {tally}; allocated {allocated / 1048576} MiB in all, " +
                         $"{allocated / Math.Max(refused, 1) / 1024} KiB per refusal");

        Assert.False(service.HasExited, service.Errors);
        // A 503 comes with Connection: close while the client may still be sending its body, which can reset the
        // connection before the answer is read: "closed", as in the test above.
        Assert.All(endings, e => Assert.Contains(e, new[] { "400", "503", "closed" }));
        Assert.True(refused >= Clients, tally);
        // Less than the body itself: no copy of it was made, let alone its UTF-16 string of twice its size (measured:
        // 5,350 KiB per refusal before, 80-310 KiB after, the rest being Kestrel's and the runtime's own).
        Assert.True(allocated / refused < forged.Length, $"{allocated / refused / 1024} KiB allocated per forged body refused");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        Assert.Equal(HttpStatusCode.OK, signedAfterwards.StatusCode);
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>The bytes the service's process has allocated since it started, as its runtime counts them.</summary>
    private static async Task<long> AllocatedAsync(HttpClient metrics)
    {
        var text = await metrics.GetStringAsync("/metrics");
        var line = text.Split('\n').Single(l => l.StartsWith("dotnet_gc_heap_total_allocated_bytes", StringComparison.Ordinal));
        return (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>One forged delivery sent whole at once from <paramref name="from"/>: the status of its answer, or "closed".</summary>
    private static async Task<string> WholeBodyAsync(int port, IPAddress from, byte[] body)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port, CancellationToken.None);
        var answer = ReadStatusAsync(socket);
        var head = Encoding.ASCII.GetBytes(
            "POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n" +
            $"Content-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nStripe-Signature: t={Now().ToString(CultureInfo.InvariantCulture)},v1={new string('0', 64)}\r\n\r\n");
        try
        {
            await socket.SendAsync(head, SocketFlags.None);
            await socket.SendAsync(body, SocketFlags.None);
        }
        catch (SocketException)
        {
            // Turned away before the body was all sent: the answer says so.
        }

        return await answer;
    }

    /// <summary>
    /// The attack comes from a hundred addresses (127.0.0.2 to 127.0.0.101, all loopback), so that every turn is taken
    /// and not only one address's share of them (Stripe:WebhookConcurrencyPerAddress).
    /// </summary>
    private static IPAddress Sender(int connection) => new([127, 0, 0, (byte)(2 + (connection % 100))]);

    /// <summary>
    /// The service as a container runs it: Production, settings from the environment and the keys from a secrets
    /// directory. Per-request log lines for hundreds of refusals are not what this test reads.
    /// </summary>
    private async Task<Dictionary<string, string>> EnvironmentAsync()
    {
        var secrets = Directory.CreateDirectory(Path.Combine(_directory, "secrets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(secrets, "Stripe__SecretKey"), ApiFactory.StripeKey);
        await File.WriteAllTextAsync(Path.Combine(secrets, "Stripe__WebhookSecrets__0"), Secret);
        return new Dictionary<string, string>(ApiFactory.ProcessEnvironment(Stripe))
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["BFFSESSIONS_SECRETS_DIRECTORY"] = secrets,
            ["ConnectionStrings__Customers"] = $"Data Source={Path.Combine(_directory, "customers.db")}",
            ["Serilog__MinimumLevel__Default"] = "Warning",
            ["Serilog__MinimumLevel__Override__Microsoft.Hosting.Lifetime"] = "Information", // "Now listening on"
        };
    }

    /// <summary>A size in /proc/&lt;pid&gt;/status (VmRSS, the resident set now; VmHWM, its high-water mark), in bytes.</summary>
    private static long Status(ServiceProcess service, string field)
    {
        var line = File.ReadLines($"/proc/{service.Id}/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static Task<HttpResponseMessage> SessionAsync(HttpClient http) =>
        http.PostAsJsonAsync("/api/customer-sessions", new { components = new { pricingTable = new { enabled = true } } });

    private static Task<HttpResponseMessage> SignedDeliveryAsync(HttpClient http, string customerId)
    {
        var body = StripeEvents.CustomerDeleted(customerId);
        return StripeEvents.DeliverAsync(http, body, StripeEvents.Signature(body, DateTimeOffset.UtcNow, Secret));
    }

    /// <summary>The largest resident set seen, every 50 ms, until <paramref name="stop"/>.</summary>
    private static async Task<long> SampleAsync(ServiceProcess service, CancellationToken stop)
    {
        var peak = 0L;
        while (!stop.IsCancellationRequested)
        {
            peak = Math.Max(peak, Status(service, "VmRSS"));
            await Task.Delay(50, CancellationToken.None);
        }

        return peak;
    }

    /// <summary>
    /// One attacking connection: headers with a fresh timestamp and a Content-Length of about 1 MB, nearly all the body
    /// at once, then a trickle until the service answers or the hold ends. Returns the status it got, or "closed" when
    /// the connection ended without one, or "held" when it was still open, unanswered, at the end.
    /// </summary>
    private static async Task<string> SlowBodyAsync(int port, IPAddress from, byte[] payload, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port, CancellationToken.None);
        var answer = ReadStatusAsync(socket);
        var head = Encoding.ASCII.GetBytes(
            "POST /stripe/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            $"Content-Length: {DeclaredBytes.ToString(CultureInfo.InvariantCulture)}\r\nStripe-Signature: t={Now().ToString(CultureInfo.InvariantCulture)},v1={new string('0', 64)}\r\n\r\n");
        try
        {
            await socket.SendAsync(head, SocketFlags.None);
            await socket.SendAsync(payload.AsMemory(0, SentAtOnce), SocketFlags.None, CancellationToken.None);
            for (var sent = SentAtOnce; sent < DeclaredBytes && !answer.IsCompleted && !stop.IsCancellationRequested; sent += TrickleBytes)
            {
                await Task.WhenAny(answer, Task.Delay(TrickleEvery, CancellationToken.None));
                if (!answer.IsCompleted)
                {
                    await socket.SendAsync(payload.AsMemory(sent, Math.Min(TrickleBytes, DeclaredBytes - sent)), SocketFlags.None, CancellationToken.None);
                }
            }
        }
        catch (SocketException)
        {
            // The service closed the connection: what it said before, if anything, is the answer.
        }

        if (!answer.IsCompleted)
        {
            await Task.WhenAny(answer, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
        }

        return answer.IsCompleted ? await answer : "held";
    }

    /// <summary>The status code of the response on <paramref name="socket"/>, or "closed" if it ends without one.</summary>
    private static async Task<string> ReadStatusAsync(Socket socket)
    {
        var received = new List<byte>();
        var buffer = new byte[1024];
        try
        {
            while (received.Count < 12)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        // "HTTP/1.1 503 …"
        return received.Count >= 12 ? Encoding.ASCII.GetString(received.ToArray(), 9, 3) : "closed";
    }
}
