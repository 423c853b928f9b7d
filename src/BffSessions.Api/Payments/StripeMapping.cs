using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>
/// The validated request onto Stripe.net's typed options for <c>POST /v1/customer_sessions</c>, field for field and
/// nothing added: an unset member stays unset, so Stripe's own default applies. The compiler ties every name and type
/// here to Stripe's API as Stripe.net pins it; the exact form that reaches Stripe is pinned by the tests.
/// </summary>
public static class StripeMapping
{
    public static CustomerSessionComponentsOptions ToStripeOptions(this SessionComponents c) => new()
    {
        PaymentElement = c.PaymentElement is { } pe ? new() { Enabled = pe.Enabled, Features = ToStripeOptions(pe.Features) } : null,
        PricingTable = c.PricingTable is { } pt ? new() { Enabled = pt.Enabled } : null,
        BuyButton = c.BuyButton is { } bb ? new() { Enabled = bb.Enabled } : null,
        MobilePaymentElement = c.MobilePaymentElement is { } mpe ? new() { Enabled = mpe.Enabled, Features = ToStripeOptions(mpe.Features) } : null,
        CustomerSheet = c.CustomerSheet is { } cs ? new() { Enabled = cs.Enabled, Features = ToStripeOptions(cs.Features) } : null,
    };

    private static CustomerSessionComponentsPaymentElementFeaturesOptions? ToStripeOptions(PaymentElementFeatures? f) => f is null ? null : new()
    {
        PaymentMethodRedisplay = f.PaymentMethodRedisplay,
        PaymentMethodRedisplayLimit = f.PaymentMethodRedisplayLimit,
        PaymentMethodAllowRedisplayFilters = ToList(f.PaymentMethodAllowRedisplayFilters),
        PaymentMethodSave = f.PaymentMethodSave,
        PaymentMethodSaveUsage = f.PaymentMethodSaveUsage,
        PaymentMethodRemove = f.PaymentMethodRemove,
    };

    private static CustomerSessionComponentsMobilePaymentElementFeaturesOptions? ToStripeOptions(MobilePaymentElementFeatures? f) => f is null ? null : new()
    {
        PaymentMethodRedisplay = f.PaymentMethodRedisplay,
        PaymentMethodAllowRedisplayFilters = ToList(f.PaymentMethodAllowRedisplayFilters),
        PaymentMethodSave = f.PaymentMethodSave,
        PaymentMethodSaveAllowRedisplayOverride = f.PaymentMethodSaveAllowRedisplayOverride,
        PaymentMethodRemove = f.PaymentMethodRemove,
    };

    private static CustomerSessionComponentsCustomerSheetFeaturesOptions? ToStripeOptions(CustomerSheetFeatures? f) => f is null ? null : new()
    {
        PaymentMethodAllowRedisplayFilters = ToList(f.PaymentMethodAllowRedisplayFilters),
        PaymentMethodRemove = f.PaymentMethodRemove,
    };

    /// <summary>The validator has refused null entries already.</summary>
    private static List<string>? ToList(IReadOnlyList<string?>? values) => values?.Select(v => v!).ToList();
}
