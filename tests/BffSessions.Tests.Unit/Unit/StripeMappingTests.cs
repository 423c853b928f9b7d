using BffSessions.Api.Payments;

namespace BffSessions.Tests.Unit;

/// <summary>The request onto Stripe.net's typed options: each value lands on its own option, and nothing else is set.</summary>
public sealed class StripeMappingTests
{
    /// <summary>
    /// In each row some siblings differ, and across the rows every pair of one component's enabled/disabled features
    /// differs at least once (as do the two components), so a mapping that swapped two fields fails here.
    /// </summary>
    [Theory]
    [InlineData("enabled", "disabled", "disabled", "disabled", "enabled", "disabled")]
    [InlineData("disabled", "disabled", "enabled", "enabled", "enabled", "disabled")]
    public void Every_feature_lands_on_its_own_option(string redisplay, string save, string remove, string mobileRedisplay, string mobileSave, string mobileRemove)
    {
        var components = new SessionComponents(
            new PaymentElementComponent(true, new PaymentElementFeatures(redisplay, 4, ["limited", "always"], save, "on_session", remove)),
            new PlainComponent(false),
            new PlainComponent(true),
            new MobilePaymentElementComponent(false, new MobilePaymentElementFeatures(mobileRedisplay, ["unspecified"], mobileSave, "limited", mobileRemove)),
            new CustomerSheetComponent(true, new CustomerSheetFeatures(["always"], mobileRemove == "enabled" ? "disabled" : "enabled")));

        var options = components.ToStripeOptions();

        var pe = options.PaymentElement!;
        Assert.True(pe.Enabled);
        Assert.Equal((redisplay, 4L, save, "on_session", remove),
            (pe.Features.PaymentMethodRedisplay, pe.Features.PaymentMethodRedisplayLimit, pe.Features.PaymentMethodSave,
                pe.Features.PaymentMethodSaveUsage, pe.Features.PaymentMethodRemove));
        Assert.Equal(["limited", "always"], pe.Features.PaymentMethodAllowRedisplayFilters);
        Assert.False(options.PricingTable!.Enabled);
        Assert.True(options.BuyButton!.Enabled);
        var mpe = options.MobilePaymentElement!;
        Assert.False(mpe.Enabled);
        Assert.Equal((mobileRedisplay, mobileSave, "limited", mobileRemove),
            (mpe.Features.PaymentMethodRedisplay, mpe.Features.PaymentMethodSave, mpe.Features.PaymentMethodSaveAllowRedisplayOverride,
                mpe.Features.PaymentMethodRemove));
        Assert.Equal(["unspecified"], mpe.Features.PaymentMethodAllowRedisplayFilters);
        Assert.True(options.CustomerSheet!.Enabled);
        Assert.Equal(mobileRemove == "enabled" ? "disabled" : "enabled", options.CustomerSheet.Features.PaymentMethodRemove);
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
