using BffSessions.Api.Payments;
using FluentValidation;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// Stripe's rules for POST /v1/customer_sessions components (../shared/stripe/README.md), checked here so a
/// request Stripe would refuse never leaves the service. One message per failing path.
/// </summary>
public sealed class CustomerSessionRequestValidator : AbstractValidator<CustomerSessionRequest>
{
    /// <summary>The message when no component is enabled (the rule Stripe itself enforces).</summary>
    public const string NothingEnabled = "At least one component must be enabled.";

    public CustomerSessionRequestValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(r => r.Components)
            .NotNull().WithMessage("components is required.");
        RuleFor(r => r.Components!).SetValidator(new SessionComponentsValidator());
    }
}

public sealed class SessionComponentsValidator : AbstractValidator<SessionComponents>
{
    public SessionComponentsValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(c => c)
            .Must(c => c.PaymentElement?.Enabled == true || c.PricingTable?.Enabled == true || c.BuyButton?.Enabled == true
                || c.MobilePaymentElement?.Enabled == true || c.CustomerSheet?.Enabled == true)
            .WithMessage(CustomerSessionRequestValidator.NothingEnabled)
            .OverridePropertyName("");

        RuleFor(c => c.PricingTable!.Enabled).Enabled().When(c => c.PricingTable is not null);
        RuleFor(c => c.BuyButton!.Enabled).Enabled().When(c => c.BuyButton is not null);

        RuleFor(c => c.PaymentElement!.Enabled).Enabled().When(c => c.PaymentElement is not null);
        RuleFor(c => c.PaymentElement!.Features!).SetValidator(new PaymentElementFeaturesValidator())
            .When(c => c.PaymentElement?.Features is not null);

        RuleFor(c => c.MobilePaymentElement!.Enabled).Enabled().When(c => c.MobilePaymentElement is not null);
        RuleFor(c => c.MobilePaymentElement!.Features!).SetValidator(new MobilePaymentElementFeaturesValidator())
            .When(c => c.MobilePaymentElement?.Features is not null);

        RuleFor(c => c.CustomerSheet!.Enabled).Enabled().When(c => c.CustomerSheet is not null);
        RuleFor(c => c.CustomerSheet!.Features!).SetValidator(new CustomerSheetFeaturesValidator())
            .When(c => c.CustomerSheet?.Features is not null);
    }
}

public sealed class PaymentElementFeaturesValidator : AbstractValidator<PaymentElementFeatures>
{
    public PaymentElementFeaturesValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(f => f.PaymentMethodRedisplay).OneOf(StripeValues.EnabledDisabled);
        RuleFor(f => f.PaymentMethodRedisplayLimit)
            .InclusiveBetween(1, 10).WithMessage("Must be an integer from 1 to 10.");
        RuleFor(f => f.PaymentMethodAllowRedisplayFilters).RedisplayFilters();
        RuleFor(f => f.PaymentMethodSave).OneOf(StripeValues.EnabledDisabled);
        RuleFor(f => f.PaymentMethodSaveUsage).OneOf(StripeValues.SaveUsages);
        RuleFor(f => f.PaymentMethodRemove).OneOf(StripeValues.EnabledDisabled);
    }
}

public sealed class MobilePaymentElementFeaturesValidator : AbstractValidator<MobilePaymentElementFeatures>
{
    public MobilePaymentElementFeaturesValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(f => f.PaymentMethodRedisplay).OneOf(StripeValues.EnabledDisabled);
        RuleFor(f => f.PaymentMethodAllowRedisplayFilters).RedisplayFilters();
        RuleFor(f => f.PaymentMethodSave).OneOf(StripeValues.EnabledDisabled);
        RuleFor(f => f.PaymentMethodSaveAllowRedisplayOverride).OneOf(StripeValues.AllowRedisplay);
        RuleFor(f => f.PaymentMethodRemove).OneOf(StripeValues.EnabledDisabled);
    }
}

public sealed class CustomerSheetFeaturesValidator : AbstractValidator<CustomerSheetFeatures>
{
    public CustomerSheetFeaturesValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(f => f.PaymentMethodAllowRedisplayFilters).RedisplayFilters();
        RuleFor(f => f.PaymentMethodRemove).OneOf(StripeValues.EnabledDisabled);
    }
}

/// <summary>Stripe's enum strings for customer session features.</summary>
public static class StripeValues
{
    public static readonly string[] EnabledDisabled = ["enabled", "disabled"];
    public static readonly string[] SaveUsages = ["off_session", "on_session"];
    public static readonly string[] AllowRedisplay = ["always", "limited", "unspecified"];
}

internal static class StripeRules
{
    /// <summary>Stripe requires <c>enabled</c> on every component that is sent.</summary>
    public static IRuleBuilderOptions<T, bool?> Enabled<T>(this IRuleBuilder<T, bool?> rule) =>
        rule.NotNull().WithMessage("enabled is required (true or false).");

    /// <summary>Absent is fine (Stripe's default applies); present must be one of Stripe's values.</summary>
    public static IRuleBuilderOptions<T, string?> OneOf<T>(this IRuleBuilder<T, string?> rule, string[] allowed) =>
        rule.Must(value => value is null || allowed.Contains(value, StringComparer.Ordinal))
            .WithMessage($"Must be one of: {string.Join(", ", allowed)}.");

    /// <summary>A non-empty list of distinct values from always, limited, unspecified.</summary>
    public static IRuleBuilderOptions<T, IReadOnlyList<string?>?> RedisplayFilters<T>(this IRuleBuilder<T, IReadOnlyList<string?>?> rule) =>
        rule.Must(filters => filters is null || filters.Count > 0)
                .WithMessage("Must list at least one of: always, limited, unspecified.")
            .Must(filters => filters is null || filters.All(f => f is not null && StripeValues.AllowRedisplay.Contains(f, StringComparer.Ordinal)))
                .WithMessage("Each value must be one of: always, limited, unspecified.")
            .Must(filters => filters is null || filters.Distinct(StringComparer.Ordinal).Count() == filters.Count)
                .WithMessage("Each value may appear only once.");
}
