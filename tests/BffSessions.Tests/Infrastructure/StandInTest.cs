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

    /// <summary>A loopback port that was free a moment ago (listen on it, or leave it closed to test refusals).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
