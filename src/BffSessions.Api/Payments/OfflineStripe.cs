using BffSessions.StandIn;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Payments;

/// <summary>
/// Development without a Stripe key: the Stripe stand-in (tools/StripeStandIn, the one the tests and the benchmark
/// use) answers Stripe.net in this process, with Stripe's rules and Stripe-shaped objects, so a fresh clone serves the
/// whole flow without a Stripe account. Its customers are kept in <see cref="StripeOptions.OfflineStateFile"/>, so
/// the ones the customer map names survive a restart. Never used outside Development (StripeOptionsValidator).
/// </summary>
internal static class OfflineStripe
{
    /// <summary>A test-mode key the stand-in takes; nothing leaves the process.</summary>
    public const string ApiKey = "sk_test_offlinestandin";

    public static HttpMessageHandler Handler(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<StripeOptions>>().Value;
        var standIn = StripeStandIn.CreateInProcess(new StandInOptions { StateFile = Path.GetFullPath(options.OfflineStateFile) });
        return standIn.CreateHandler();
    }
}
