using Stripe;

namespace BffSessions.Api.CustomerSessions;

/// <summary>The validated request, as Stripe.net's options: field for field, nothing added.</summary>
public static class StripeComponents
{
    public static CustomerSessionComponentsOptions ToStripe(this SessionComponents c) => new()
    {
        PaymentElement = c.PaymentElement is { } pe
            ? new CustomerSessionComponentsPaymentElementOptions
            {
                Enabled = pe.Enabled,
                Features = pe.Features is { } pef
                    ? new CustomerSessionComponentsPaymentElementFeaturesOptions
                    {
                        PaymentMethodRedisplay = pef.PaymentMethodRedisplay,
                        PaymentMethodRedisplayLimit = pef.PaymentMethodRedisplayLimit,
                        PaymentMethodAllowRedisplayFilters = ToList(pef.PaymentMethodAllowRedisplayFilters),
                        PaymentMethodSave = pef.PaymentMethodSave,
                        PaymentMethodSaveUsage = pef.PaymentMethodSaveUsage,
                        PaymentMethodRemove = pef.PaymentMethodRemove,
                    }
                    : null,
            }
            : null,
        PricingTable = c.PricingTable is { } pt ? new CustomerSessionComponentsPricingTableOptions { Enabled = pt.Enabled } : null,
        BuyButton = c.BuyButton is { } bb ? new CustomerSessionComponentsBuyButtonOptions { Enabled = bb.Enabled } : null,
        MobilePaymentElement = c.MobilePaymentElement is { } mpe
            ? new CustomerSessionComponentsMobilePaymentElementOptions
            {
                Enabled = mpe.Enabled,
                Features = mpe.Features is { } mf
                    ? new CustomerSessionComponentsMobilePaymentElementFeaturesOptions
                    {
                        PaymentMethodRedisplay = mf.PaymentMethodRedisplay,
                        PaymentMethodAllowRedisplayFilters = ToList(mf.PaymentMethodAllowRedisplayFilters),
                        PaymentMethodSave = mf.PaymentMethodSave,
                        PaymentMethodSaveAllowRedisplayOverride = mf.PaymentMethodSaveAllowRedisplayOverride,
                        PaymentMethodRemove = mf.PaymentMethodRemove,
                    }
                    : null,
            }
            : null,
        CustomerSheet = c.CustomerSheet is { } cs
            ? new CustomerSessionComponentsCustomerSheetOptions
            {
                Enabled = cs.Enabled,
                Features = cs.Features is { } sf
                    ? new CustomerSessionComponentsCustomerSheetFeaturesOptions
                    {
                        PaymentMethodAllowRedisplayFilters = ToList(sf.PaymentMethodAllowRedisplayFilters),
                        PaymentMethodRemove = sf.PaymentMethodRemove,
                    }
                    : null,
            }
            : null,
    };

    private static List<string>? ToList(IReadOnlyList<string?>? values) => values?.Select(v => v!).ToList();
}
