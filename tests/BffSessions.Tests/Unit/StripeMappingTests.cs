using BffSessions.Api.CustomerSessions;

namespace BffSessions.Tests.Unit;

/// <summary>The request onto Stripe.net's typed options: each value lands on its own option, and nothing else is set.</summary>
public sealed class StripeMappingTests
{
    [Fact]
    public void Every_feature_lands_on_its_own_option()
    {
        var components = new SessionComponents(
            new PaymentElementComponent(true, new PaymentElementFeatures("enabled", 4, ["limited", "always"], "disabled", "on_session", "enabled")),
            new PlainComponent(false),
            new PlainComponent(true),
            new MobilePaymentElementComponent(false, new MobilePaymentElementFeatures("disabled", ["unspecified"], "enabled", "limited", "disabled")),
            new CustomerSheetComponent(true, new CustomerSheetFeatures(["always"], "disabled")));

        var options = components.ToStripeOptions();

        var pe = options.PaymentElement!;
        Assert.True(pe.Enabled);
        Assert.Equal(("enabled", 4L, "disabled", "on_session", "enabled"),
            (pe.Features.PaymentMethodRedisplay, pe.Features.PaymentMethodRedisplayLimit, pe.Features.PaymentMethodSave,
                pe.Features.PaymentMethodSaveUsage, pe.Features.PaymentMethodRemove));
        Assert.Equal(["limited", "always"], pe.Features.PaymentMethodAllowRedisplayFilters);
        Assert.False(options.PricingTable!.Enabled);
        Assert.True(options.BuyButton!.Enabled);
        var mpe = options.MobilePaymentElement!;
        Assert.False(mpe.Enabled);
        Assert.Equal(("disabled", "enabled", "limited", "disabled"),
            (mpe.Features.PaymentMethodRedisplay, mpe.Features.PaymentMethodSave, mpe.Features.PaymentMethodSaveAllowRedisplayOverride,
                mpe.Features.PaymentMethodRemove));
        Assert.Equal(["unspecified"], mpe.Features.PaymentMethodAllowRedisplayFilters);
        Assert.True(options.CustomerSheet!.Enabled);
        Assert.Equal("disabled", options.CustomerSheet.Features.PaymentMethodRemove);
        Assert.Equal(["always"], options.CustomerSheet.Features.PaymentMethodAllowRedisplayFilters);
    }

    [Fact]
    public void What_the_request_leaves_out_stays_unset_so_Stripes_defaults_apply()
    {
        var options = new SessionComponents(new PaymentElementComponent(true, new PaymentElementFeatures(null, null, null, "enabled", null, null)), null, null, null, null)
            .ToStripeOptions();

        Assert.Null(options.PricingTable);
        Assert.Null(options.BuyButton);
        Assert.Null(options.MobilePaymentElement);
        Assert.Null(options.CustomerSheet);
        Assert.Null(options.ActiveEntitlements);
        Assert.Null(options.CustomerPortal);
        var features = options.PaymentElement!.Features;
        Assert.Equal("enabled", features.PaymentMethodSave);
        Assert.Null(features.PaymentMethodRedisplay);
        Assert.Null(features.PaymentMethodRedisplayLimit);
        Assert.Null(features.PaymentMethodAllowRedisplayFilters);
        Assert.Null(features.PaymentMethodSaveUsage);
        Assert.Null(features.PaymentMethodRemove);
    }
}
