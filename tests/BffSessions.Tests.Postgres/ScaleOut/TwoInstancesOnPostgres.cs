using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.ScaleOut;

/// <summary>
/// Two instances of the service on one throwaway PostgreSQL server and one Stripe stand-in, started by the first test
/// that asks (<see cref="EnsureStartedAsync"/>, after it has checked PostgreSQL is there); at the end, no secret in
/// any log line. A fixture says only how its instances are configured.
/// </summary>
public abstract class TwoInstancesOnPostgres : IAsyncLifetime
{
    public PostgresServer Database { get; private set; } = null!;

    public StripeStandIn Stripe { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public ApiFactory A { get; private set; } = null!;

    public ApiFactory B { get; private set; } = null!;

    private bool _started;

    /// <summary>The environment both instances run in.</summary>
    protected virtual string Environment => "Test";

    /// <summary>Both instances' settings, on <paramref name="database"/>.</summary>
    protected abstract IDictionary<string, string?> Settings(PostgresServer database);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task EnsureStartedAsync()
    {
        if (_started)
        {
            return;
        }

        Database = await PostgresServer.StartAsync();
        Stripe = await TestStripe.StartAsync();
        A = new ApiFactory(Stripe, Logs, Environment, Settings(Database));
        B = new ApiFactory(Stripe, Logs, Environment, Settings(Database));
        _ = A.Server; // migrates the shared database
        _ = B.Server;
        _started = true;
    }

    public async Task DisposeAsync()
    {
        if (!_started)
        {
            return;
        }

        await A.DisposeAsync();
        await B.DisposeAsync();
        await Stripe.DisposeAsync();
        await Database.DisposeAsync();
        Assert.Empty(Secrets.FoundIn(Logs.Lines));
    }
}
