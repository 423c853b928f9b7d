using System.Net;
using System.Net.Sockets;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// Base for tests that build hosts of their own: a fresh Stripe stand-in and log capture per test, and at the end
/// the same guard as everywhere — no secret in any log line written.
/// </summary>
public abstract class StandInTest : IAsyncLifetime
{
    protected LogCapture Logs { get; } = new();

    protected StripeStandIn Stripe { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Stripe = await TestStripe.StartAsync();

    public virtual async Task DisposeAsync()
    {
        await Stripe.DisposeAsync();
        Assert.Empty(Secrets.FoundIn(Logs.Lines));
    }

    /// <summary>
    /// A loopback port that was free a moment ago: only for a port that must be named before its server starts (a
    /// setting, a closed port to test refusals, PostgreSQL, and the browser tests' provider and application, whose
    /// settings name each other). Each of those confirms it reached its own process (pg_ctl's wait on its own data
    /// directory, the provider's READY line, an in-process Kestrel that fails to bind) and fails, never passes, on a
    /// clash. Everything else binds port 0 and reads the port it got (<see cref="ApiFactory.StartKestrel"/>,
    /// ServiceProcess, StandInProcess, the Stripe stand-in).
    /// </summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
