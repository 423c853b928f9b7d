using BffSessions.StandIn;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Payments;

/// <summary>
/// Development without a Stripe key: the Stripe stand-in (tools/StripeStandIn, the one the tests and the benchmark
/// use) answers Stripe.net in this process, with Stripe's rules and Stripe-shaped objects, so a fresh clone serves the
/// whole flow without a Stripe account. Its customers are kept in <see cref="StripeOptions.OfflineStateFile"/>, so
/// the ones the customer map names survive a restart. Never used outside Development (StripeOptionsValidator). A
/// singleton: the container disposes the stand-in with the service.
/// </summary>
public sealed class OfflineStripe(IOptions<StripeOptions> options) : IAsyncDisposable
{
    /// <summary>A test-mode key the stand-in takes; nothing leaves the process.</summary>
    public const string ApiKey = "sk_test_offlinestandin";

    private readonly StripeStandIn _standIn = StripeStandIn.CreateInProcess(new StandInOptions { StateFile = Path.GetFullPath(options.Value.OfflineStateFile) });

    /// <summary>The primary handler of Stripe.net's HttpClient: every call answered in this process.</summary>
    public HttpMessageHandler CreateHandler() => _standIn.CreateHandler();

    public ValueTask DisposeAsync() => _standIn.DisposeAsync();
}
