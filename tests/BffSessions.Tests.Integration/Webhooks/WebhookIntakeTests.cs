using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using BffSessions.Api.Payments;
using BffSessions.Api.Webhooks;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests.Webhooks;

/// <summary>
/// What an unsigned body may cost before its signature is checked: nothing when the header cannot pass, a turn among
/// few when it might, and only for as long as the body takes to arrive within its time. Each request carries an
/// X-Delivery name, and the host counts the body bytes the service read for each, on the server's side.
/// </summary>
public sealed class WebhookIntakeTests : StandInTest
{
    private const string Secret = "whsec_intake_destination";
    private const string Zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string TurnedAwayLine = "Stripe webhook deliveries turned away unread";
    private const string CutOffLine = "Stripe webhook deliveries cut off for a slow body";
    private const string RefusedLine = "Refused a Stripe webhook delivery";

    private readonly BodyReads _reads = new();

    /// <summary>
    /// These tests hold turns with bodies that stall on purpose, so no minimum rate cuts them off first (that rule's
    /// tests, and the share of each address, are WebhookSlowSenderTests, on a real Kestrel).
    /// </summary>
    private ApiFactory NewApi(int concurrency = 16, string bodyTimeout = "00:00:30", TimeProvider? time = null) => new(Stripe, Logs, "Test", new Dictionary<string, string?>
    {
        ["Stripe:WebhookSecrets:0"] = Secret,
        ["Stripe:WebhookConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture),
        // The test host gives no client address, so no share applies; it may not be more than the turns.
        ["Stripe:WebhookConcurrencyPerAddress"] = concurrency.ToString(CultureInfo.InvariantCulture),
        ["Stripe:WebhookBodyTimeout"] = bodyTimeout,
        ["Stripe:WebhookBodyMinRate"] = "0",
    }, services =>
    {
        services.AddSingleton(_reads);
        services.AddTransient<IStartupFilter, CountBodyReads>();
        if (time is not null)
        {
            services.AddSingleton(time);
        }
    });

    /// <summary>
    /// Headers made when the test runs (from the time then), not when the tests are discovered. Ten seconds past the
    /// tolerance, not one: the clock's second may tick between signing here and the check there (the exact edge is
    /// The_check_before_the_body_agrees_with_Stripe_net's, on one clock).
    /// </summary>
    public static TheoryData<string, Func<long, string?>> HeadersThatCannotPass => new()
    {
        { "the t=1 of the measured attack", _ => $"t=1,v1={Zeros}" },
        { "signed 310 s ago", now => $"t={now - 310},v1={Zeros}" },
        { "signed 310 s ahead", now => $"t={now + 310},v1={Zeros}" },
        { "no header", _ => null },
        { "a garbled header", _ => "garbage" },
        { "no v1 signature", now => $"t={now}" },
        { "no timestamp", _ => $"v1={Zeros}" },
        { "a timestamp that is not a number", _ => $"t=now,v1={Zeros}" },
        { "a timestamp beyond Stripe.net's Int32", _ => $"t=99999999999,v1={Zeros}" },
        { "an item without =", now => $"t={now},v1={Zeros},stray" },
    };

    [Theory]
    [MemberData(nameof(HeadersThatCannotPass))]
    public async Task A_header_that_cannot_pass_is_refused_before_a_byte_of_the_body_is_read(string why, Func<long, string?> sign)
    {
        await using var api = NewApi();
        using var client = api.CreateApiClient();
        var header = sign(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

        using var response = await DeliverAsync(client, "refused", StripeEvents.CustomerDeleted("cus_x", padding: new string('x', 512 * 1024)), header);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(WebhookProblems.InvalidSignature.Type, problem.GetProperty("type").GetString());
        Assert.True(_reads.Of("refused") == 0, $"{why}: {_reads.Of("refused")} body bytes read");
        Assert.Contains(Logs.Lines, l => l.Contains("Refused a Stripe webhook delivery", StringComparison.Ordinal) && l.Contains("(not read)", StringComparison.Ordinal));
    }

    /// <summary>The counter counts: a header that might pass (only the body can show it forged) has its body read, then refused.</summary>
    [Fact]
    public async Task A_fresh_header_with_a_forged_signature_has_its_body_read_and_is_refused()
    {
        await using var api = NewApi();
        using var client = api.CreateApiClient();
        var body = StripeEvents.CustomerDeleted("cus_x", eventId: "evt_forged_but_fresh");

        using var response = await DeliverAsync(client, "forged", body, $"t={DateTimeOffset.UtcNow.ToUnixTimeSeconds()},v1={Zeros}");

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(WebhookProblems.InvalidSignature.Type, problem.GetProperty("type").GetString());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(body), _reads.Of("forged"));
        Assert.Contains(Logs.Lines, l => l.Contains("Refused a Stripe webhook delivery", StringComparison.Ordinal) && l.Contains("evt_forged_but_fresh", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Beyond_the_bodies_read_at_once_a_delivery_is_turned_away_unread_with_503_and_Retry_After_and_the_turn_comes_back()
    {
        await using var api = NewApi(concurrency: 1, bodyTimeout: "00:00:30");
        using var client = api.CreateApiClient();
        var held = StripeEvents.CustomerDeleted("cus_held");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = DeliverAsync(client, "holding", new StalledContent(held, gate.Task), StripeEvents.Signature(held, DateTimeOffset.UtcNow, Secret));
        await WaitForAsync(() => _reads.Of("holding") > 0);
        var next = StripeEvents.CustomerDeleted("cus_next");

        using var busy = await DeliverAsync(client, "busy", next, StripeEvents.Signature(next, DateTimeOffset.UtcNow, Secret));
        gate.SetResult();
        using var held200 = await holding;
        using var retried = await DeliverAsync(client, "retried", next, StripeEvents.Signature(next, DateTimeOffset.UtcNow, Secret));

        var problem = await HttpAssert.ProblemAsync(busy, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(WebhookProblems.Busy.Type, problem.GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(30), busy.Headers.RetryAfter?.Delta);
        Assert.Equal(0, _reads.Of("busy"));
        Assert.Equal(HttpStatusCode.OK, held200.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Contains(Logs.Lines, l => l.StartsWith("[Warning]", StringComparison.Ordinal) && l.Contains(TurnedAwayLine, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_body_that_does_not_arrive_in_time_is_cut_off_with_408_and_its_turn_is_given_back()
    {
        await using var api = NewApi(concurrency: 1, bodyTimeout: "00:00:01");
        using var client = api.CreateApiClient();
        var stalled = StripeEvents.CustomerDeleted("cus_stalled");
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var next = StripeEvents.CustomerDeleted("cus_after_the_stall");

        try
        {
            using var cutOff = await DeliverAsync(client, "stalled", new StalledContent(stalled, never.Task), StripeEvents.Signature(stalled, DateTimeOffset.UtcNow, Secret));
            using var after = await DeliverAsync(client, "after", next, StripeEvents.Signature(next, DateTimeOffset.UtcNow, Secret));

            var problem = await HttpAssert.ProblemAsync(cutOff, HttpStatusCode.RequestTimeout);
            Assert.Equal(WebhookProblems.BodyTooSlow.Type, problem.GetProperty("type").GetString());
            Assert.InRange(_reads.Of("stalled"), 1, stalled.Length - 1);
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            Assert.Contains(Logs.Lines, l => l.Contains(CutOffLine, StringComparison.Ordinal) && l.Contains("within 00:00:01", StringComparison.Ordinal));
        }
        finally
        {
            never.SetResult();
        }
    }

    /// <summary>
    /// A retry loop that was turned away once wrote a warning per delivery: 85 MB of logs in 30 s. Now the first is a
    /// line, the rest of the burst only counts, and the next line, at least 10 s on, says how many came between.
    /// </summary>
    [Fact]
    public async Task A_burst_turned_away_writes_one_warning_and_the_next_one_ten_seconds_on_counts_the_rest()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = NewApi(concurrency: 1, time: time);
        using var client = api.CreateApiClient();
        var held = StripeEvents.CustomerDeleted("cus_held");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = DeliverAsync(client, "holding", new StalledContent(held, gate.Task), StripeEvents.Signature(held, time.GetUtcNow(), Secret));
        await WaitForAsync(() => _reads.Of("holding") > 0);
        var next = StripeEvents.CustomerDeleted("cus_next");
        var statuses = new List<HttpStatusCode>();

        for (var i = 0; i < 50; i++)
        {
            using var busy = await DeliverAsync(client, "busy", next, StripeEvents.Signature(next, time.GetUtcNow(), Secret));
            statuses.Add(busy.StatusCode);
        }

        var afterTheBurst = Counts(TurnedAwayLine);
        time.Advance(WarningThrottle.Interval);
        using (var later = await DeliverAsync(client, "later", next, StripeEvents.Signature(next, time.GetUtcNow(), Secret)))
        {
            statuses.Add(later.StatusCode);
        }

        gate.SetResult();
        using var held200 = await holding;

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s));
        Assert.Equal([1L], afterTheBurst);
        Assert.Equal([1L, 50L], Counts(TurnedAwayLine));
        Assert.Equal(HttpStatusCode.OK, held200.StatusCode);
    }

    /// <summary>Cut-offs are as cheap to cause (a turn a second each): the same, one line and then one per 10 s at most.</summary>
    [Fact]
    public async Task Bodies_cut_off_together_write_one_warning_and_the_next_one_ten_seconds_on_counts_the_rest()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = NewApi(concurrency: 4, bodyTimeout: "00:00:01", time: time);
        using var client = api.CreateApiClient();
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var body = StripeEvents.CustomerDeleted("cus_stalled");

        try
        {
            var together = Enumerable.Range(0, 4).Select(i => Stalled("together-" + i.ToString(CultureInfo.InvariantCulture))).ToList();
            foreach (var i in Enumerable.Range(0, 4))
            {
                await WaitForAsync(() => _reads.Of("together-" + i.ToString(CultureInfo.InvariantCulture)) > 0);
            }

            time.Advance(TimeSpan.FromSeconds(1));
            var cutTogether = await Task.WhenAll(together);
            var afterTheFour = Counts(CutOffLine);
            time.Advance(WarningThrottle.Interval);
            var last = Stalled("last");
            await WaitForAsync(() => _reads.Of("last") > 0);
            time.Advance(TimeSpan.FromSeconds(1));
            using var cutLast = await last;

            Assert.All(cutTogether, r => Assert.Equal(HttpStatusCode.RequestTimeout, r.StatusCode));
            Assert.Equal(HttpStatusCode.RequestTimeout, cutLast.StatusCode);
            Assert.Equal([1L], afterTheFour);
            Assert.Equal([1L, 4L], Counts(CutOffLine));
            foreach (var response in cutTogether)
            {
                response.Dispose();
            }
        }
        finally
        {
            never.SetResult();
        }

        Task<HttpResponseMessage> Stalled(string name) =>
            DeliverAsync(client, name, new StalledContent(body, never.Task), StripeEvents.Signature(body, time.GetUtcNow(), Secret));
    }

    /// <summary>
    /// Anyone can POST without a Stripe-Signature as fast as they like, and each is refused: one warning each let them
    /// write the logs full. Now a flood writes one line; the rest only count, and none is left out of the counts: the
    /// next line, however long after, says how many came since (here an hour of silence later). The metric has every one.
    /// </summary>
    [Fact]
    public async Task A_flood_of_refused_deliveries_writes_one_warning_and_the_next_one_after_any_silence_counts_the_rest()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var api = NewApi(time: time);
        using var client = api.CreateApiClient();
        using var refusals = new MetricCollector<long>(api.Services.GetRequiredService<IMeterFactory>(), Telemetry.Name, "bffsessions.webhook.events");
        var statuses = new List<HttpStatusCode>();

        for (var i = 0; i < 50; i++)
        {
            using var refused = await DeliverAsync(client, "flood", StripeEvents.CustomerDeleted("cus_x"), signature: null);
            statuses.Add(refused.StatusCode);
        }

        var afterTheFlood = Counts(RefusedLine);
        time.Advance(TimeSpan.FromHours(1));
        using (var later = await DeliverAsync(client, "later", StripeEvents.CustomerDeleted("cus_x"), signature: null))
        {
            statuses.Add(later.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.BadRequest, s));
        Assert.Equal([1L], afterTheFlood);
        Assert.Equal([1L, 50L], Counts(RefusedLine));
        Assert.All(Logs.Lines.Where(l => l.Contains(RefusedLine, StringComparison.Ordinal)), l => Assert.StartsWith("[Warning]", l, StringComparison.Ordinal));
        Assert.Equal(51, refusals.GetMeasurementSnapshot()
            .Where(m => (string?)m.Tags["outcome"] == "refused")
            .Sum(m => m.Value));
    }

    /// <summary>The Count of each warning whose template starts with <paramref name="line"/>, in order.</summary>
    private List<long> Counts(string line) => Logs.Events
        .Where(e => e.MessageTemplate.Text.StartsWith(line, StringComparison.Ordinal))
        .Select(e => (long)((Serilog.Events.ScalarValue)e.Properties["Count"]).Value!)
        .ToList();

    public static TheoryData<string, Func<long, string, string>, bool> HeaderShapes => new()
    {
        { "as Stripe signs it", (t, v1) => $"t={t},v1={v1}", true },
        { "with spaces around items", (t, v1) => $" t={t} , v1={v1} ", true },
        { "with another scheme beside it", (t, v1) => $"t={t},v0=abc,v1={v1}", true },
        { "with a second, junk t", (t, v1) => $"t={t},v1={v1},t=junk", true },
        { "with a stale first t", (t, v1) => $"t={t - 400},v1={v1},t={t}", false },
        { "with an empty item", (t, v1) => $"t={t},,v1={v1}", false },
        { "with v1 in upper case", (t, v1) => $"t={t},V1={v1}", false },
    };

    /// <summary>
    /// The check before the body reads the header as Stripe.net does: whatever Stripe.net's own check over the body
    /// accepts, at any age within the tolerance, it lets through, so it never turns away what Stripe signed; and these
    /// malformed shapes it refuses by itself.
    /// </summary>
    [Theory]
    [MemberData(nameof(HeaderShapes))]
    public void The_check_before_the_body_agrees_with_Stripe_net(string why, Func<long, string, string> shape, bool accepted)
    {
        var body = StripeEvents.CustomerDeleted("cus_shape");
        var now = DateTimeOffset.UtcNow;
        foreach (var age in new[] { -300, 0, 300 })
        {
            var t = now.ToUnixTimeSeconds() - age;
            var header = shape(t, global::Stripe.EventUtility.ComputeSignature(Secret, t.ToString(CultureInfo.InvariantCulture), body));
            var stripeNet = Record.Exception(() => global::Stripe.EventUtility.ValidateSignature(body, header, Secret, 300, now.ToUnixTimeSeconds())) is null;

            Assert.True(accepted == stripeNet, $"{why}, {age} s old: the test's expectation is wrong about Stripe.net");
            if (stripeNet || age == 0)
            {
                Assert.True(stripeNet == StripeEventReader.IsWorthReading(header, now), $"{why}, {age} s old: Stripe.net {(stripeNet ? "accepts" : "refuses")} it");
            }
        }

        // Signed as Stripe signs, but too far from now: refused before the body.
        foreach (var age in accepted ? [-301, 301] : Array.Empty<int>())
        {
            var t = now.ToUnixTimeSeconds() - age;
            var header = shape(t, global::Stripe.EventUtility.ComputeSignature(Secret, t.ToString(CultureInfo.InvariantCulture), body));
            Assert.False(StripeEventReader.IsWorthReading(header, now), $"{why}, {age} s old");
        }
    }

    private static Task<HttpResponseMessage> DeliverAsync(HttpClient client, string name, string body, string? signature) =>
        DeliverAsync(client, name, new StringContent(body, System.Text.Encoding.UTF8, "application/json"), signature);

    private static async Task<HttpResponseMessage> DeliverAsync(HttpClient client, string name, HttpContent content, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stripe/webhook") { Content = content };
        request.Headers.Add("X-Delivery", name);
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        }

        return await client.SendAsync(request);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(10);
        }
    }

    /// <summary>A JSON body whose first half is sent at once and the rest when the gate opens.</summary>
    private sealed class StalledContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly Task _gate;

        public StalledContent(string body, Task gate)
        {
            _body = System.Text.Encoding.UTF8.GetBytes(body);
            _gate = gate;
            Headers.ContentType = new("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_body.AsMemory(0, _body.Length / 2));
            await stream.FlushAsync();
            await _gate;
            await stream.WriteAsync(_body.AsMemory(_body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }

    /// <summary>Body bytes the service read, by the request's X-Delivery name.</summary>
    private sealed class BodyReads
    {
        private readonly ConcurrentDictionary<string, long> _bytes = new();

        public long Of(string delivery) => _bytes.GetValueOrDefault(delivery);

        public void Add(string delivery, int count) => _bytes.AddOrUpdate(delivery, count, (_, total) => total + count);
    }

    /// <summary>First in the pipeline: every request body becomes a stream that counts what is read from it.</summary>
    private sealed class CountBodyReads(BodyReads reads) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                var name = http.Request.Headers["X-Delivery"].ToString();
                http.Request.Body = new CountingStream(http.Request.Body, count => reads.Add(name, count));
                return nextMiddleware(http);
            });
            next(app);
        };
    }

    private sealed class CountingStream(Stream inner, Action<int> counted) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Counted(int read)
        {
            counted(read);
            return read;
        }
    }
}
