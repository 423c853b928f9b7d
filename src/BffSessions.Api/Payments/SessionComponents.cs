namespace BffSessions.Api.Payments;

// Stripe's POST /v1/customer_sessions `components` in the service's own types, with Stripe's own enum strings, as the
// request carries them (camelCased). Values are nullable so that "missing" reaches the validator, which names the
// path, instead of failing inside the JSON reader. StripeMapping turns them into Stripe.net's options.

/// <summary>At least one component must be enabled.</summary>
public sealed record SessionComponents(
    PaymentElementComponent? PaymentElement,
    PlainComponent? PricingTable,
    PlainComponent? BuyButton,
    MobilePaymentElementComponent? MobilePaymentElement,
    CustomerSheetComponent? CustomerSheet)
{
    /// <summary>Stripe's mobile SDKs need the customer id together with the client secret.</summary>
    public bool NeedsCustomerId => MobilePaymentElement?.Enabled == true || CustomerSheet?.Enabled == true;

    /// <summary>The enabled components, by Stripe's names (payment_element, pricing_table, …): how the metrics count sessions.</summary>
    public IEnumerable<string> EnabledNames()
    {
        if (PaymentElement?.Enabled == true)
        {
            yield return "payment_element";
        }

        if (PricingTable?.Enabled == true)
        {
            yield return "pricing_table";
        }

        if (BuyButton?.Enabled == true)
        {
            yield return "buy_button";
        }

        if (MobilePaymentElement?.Enabled == true)
        {
            yield return "mobile_payment_element";
        }

        if (CustomerSheet?.Enabled == true)
        {
            yield return "customer_sheet";
        }
    }
}

/// <summary>The pricing table and the buy button: Stripe defines no features for them.</summary>
public sealed record PlainComponent(bool? Enabled);

public sealed record PaymentElementComponent(bool? Enabled, PaymentElementFeatures? Features);

public sealed record PaymentElementFeatures(
    string? PaymentMethodRedisplay,
    int? PaymentMethodRedisplayLimit,
    IReadOnlyList<string?>? PaymentMethodAllowRedisplayFilters,
    string? PaymentMethodSave,
    string? PaymentMethodSaveUsage,
    string? PaymentMethodRemove);

public sealed record MobilePaymentElementComponent(bool? Enabled, MobilePaymentElementFeatures? Features);

public sealed record MobilePaymentElementFeatures(
    string? PaymentMethodRedisplay,
    IReadOnlyList<string?>? PaymentMethodAllowRedisplayFilters,
    string? PaymentMethodSave,
    string? PaymentMethodSaveAllowRedisplayOverride,
    string? PaymentMethodRemove);

public sealed record CustomerSheetComponent(bool? Enabled, CustomerSheetFeatures? Features);

public sealed record CustomerSheetFeatures(
    IReadOnlyList<string?>? PaymentMethodAllowRedisplayFilters,
    string? PaymentMethodRemove);
