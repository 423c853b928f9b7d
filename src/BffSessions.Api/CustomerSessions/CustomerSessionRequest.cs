namespace BffSessions.Api.CustomerSessions;

// The request mirrors Stripe's POST /v1/customer_sessions `components`, camelCased, with Stripe's own enum
// strings. Values are nullable so that "missing" reaches the validator, which names the path, instead of
// failing inside the JSON reader. There is deliberately no customer: it comes from the caller's identity.

/// <summary>Which Stripe components the front-end is about to mount for the signed-in user.</summary>
public sealed record CustomerSessionRequest(SessionComponents? Components);

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

/// <summary>
/// Everything of Stripe's customer session the front-end needs, and nothing more.
/// <c>expiresAt</c> is UTC (serialized with a Z); <c>customerId</c> is present only for the mobile Payment Element and the Customer Sheet.
/// </summary>
public sealed record CustomerSessionResponse(
    string ClientSecret,
    DateTime ExpiresAt,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? CustomerId);
