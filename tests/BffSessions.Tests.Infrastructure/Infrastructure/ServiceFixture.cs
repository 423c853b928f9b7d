namespace BffSessions.Tests.Infrastructure;

/// <summary>One stand-in Stripe and one service host, shared by the tests of the "Service" collection.</summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public StripeStandIn Stripe { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public ApiFactory Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stripe = await TestStripe.StartAsync();
        // The shared host documents its API: Swagger is off by default outside Development.
        Api = new ApiFactory(Stripe, Logs, settings: new Dictionary<string, string?> { ["Swagger:Enabled"] = "true" });
        _ = Api.Server; // start the host now, so the first test does not pay for it in its own timing
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Stripe.DisposeAsync();
    }
}

/// <summary>The collection of tests against the shared host (each test project declares it, with <see cref="ServiceFixture"/>).</summary>
public static class ServiceTestGroup
{
    public const string Name = "Service";
}

/// <summary>
/// Base for tests against the shared host: resets the stand-in's faults before each test, and after each test
/// fails it if any log line written during the test holds a client secret, an API key or a bearer token.
/// </summary>
[Collection(ServiceTestGroup.Name)]
public abstract class ServiceTest(ServiceFixture fixture) : IAsyncLifetime
{
    protected ServiceFixture Fixture { get; } = fixture;

    protected ApiFactory Api => Fixture.Api;

    protected StripeStandIn Stripe => Fixture.Stripe;

    protected static string NewUserId() => "user-" + Guid.NewGuid().ToString("N");

    private int _firstLogLine;

    /// <summary>
    /// The log lines this test wrote: tests of one collection run one at a time, so everything since the test
    /// began is its own, and an assertion cannot pass on a line an earlier test left behind.
    /// </summary>
    protected IReadOnlyList<string> LogLines => Fixture.Logs.Lines.Skip(_firstLogLine).ToList();

    /// <summary>The log events this test wrote (see <see cref="LogLines"/>).</summary>
    protected IReadOnlyList<Serilog.Events.LogEvent> LogEvents => Fixture.Logs.Events.Skip(_firstLogLine).ToList();

    public Task InitializeAsync()
    {
        Stripe.Reset();
        _firstLogLine = Fixture.Logs.Lines.Count;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Assert.Empty(Secrets.FoundIn(LogLines));
        return Task.CompletedTask;
    }
}
