using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Payments;
using FluentValidation.TestHelper;

namespace BffSessions.Tests.Unit;

/// <summary>The validator alone, without HTTP: Stripe's rules on each side of their boundaries.</summary>
public sealed class CustomerSessionRequestValidatorTests
{
    private readonly CustomerSessionRequestValidator _validator = new();

    [Fact]
    public void A_request_without_components_names_components()
    {
        var result = _validator.TestValidate(new CustomerSessionRequest(null));

        result.ShouldHaveValidationErrorFor(r => r.Components).WithErrorMessage("components is required.");
    }

    [Fact]
    public void Components_that_are_all_disabled_are_refused_once_at_the_top()
    {
        var result = _validator.TestValidate(Request(pricingTable: new PlainComponent(false), buyButton: new PlainComponent(false)));

        var error = Assert.Single(result.Errors);
        Assert.Equal("Components", error.PropertyName);
        Assert.Equal("At least one component must be enabled.", error.ErrorMessage);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(10, true)]
    [InlineData(11, false)]
    public void The_redisplay_limit_runs_from_1_to_10(int limit, bool valid)
    {
        var features = new PaymentElementFeatures(null, limit, null, null, null, null);

        var result = _validator.TestValidate(Request(paymentElement: new PaymentElementComponent(true, features)));

        Assert.Equal(valid, result.IsValid);
        if (!valid)
        {
            result.ShouldHaveValidationErrorFor("Components.PaymentElement.Features.PaymentMethodRedisplayLimit")
                .WithErrorMessage("Must be an integer from 1 to 10.");
        }
    }

    [Theory]
    [InlineData(new[] { "always", "limited", "unspecified" }, null)]
    [InlineData(new string[0], "Must list at least one of: always, limited, unspecified.")]
    [InlineData(new[] { "always", "never" }, "Each value must be one of: always, limited, unspecified.")]
    [InlineData(new[] { "limited", "limited" }, "Each value may appear only once.")]
    public void Redisplay_filters_are_a_non_empty_list_of_distinct_known_values(string[] filters, string? error)
    {
        var result = _validator.TestValidate(Request(customerSheet: new CustomerSheetComponent(true, new CustomerSheetFeatures(filters, null))));

        const string path = "Components.CustomerSheet.Features.PaymentMethodAllowRedisplayFilters";
        if (error is null)
        {
            result.ShouldNotHaveAnyValidationErrors();
        }
        else
        {
            result.ShouldHaveValidationErrorFor(path).WithErrorMessage(error);
        }
    }

    [Fact]
    public void Enum_values_are_Stripes_own_and_case_sensitive()
    {
        var features = new MobilePaymentElementFeatures("Enabled", null, "enabled", "sometimes", "disabled");

        var result = _validator.TestValidate(Request(mobilePaymentElement: new MobilePaymentElementComponent(true, features)));

        result.ShouldHaveValidationErrorFor("Components.MobilePaymentElement.Features.PaymentMethodRedisplay").WithErrorMessage("Must be one of: enabled, disabled.");
        result.ShouldHaveValidationErrorFor("Components.MobilePaymentElement.Features.PaymentMethodSaveAllowRedisplayOverride")
            .WithErrorMessage("Must be one of: always, limited, unspecified.");
        Assert.Equal(2, result.Errors.Count);
    }

    [Fact]
    public void A_component_sent_without_enabled_is_refused_even_beside_an_enabled_one()
    {
        var result = _validator.TestValidate(Request(pricingTable: new PlainComponent(true), buyButton: new PlainComponent(null)));

        result.ShouldHaveValidationErrorFor("Components.BuyButton.Enabled").WithErrorMessage("enabled is required (true or false).");
    }

    private static CustomerSessionRequest Request(
        PaymentElementComponent? paymentElement = null, PlainComponent? pricingTable = null, PlainComponent? buyButton = null,
        MobilePaymentElementComponent? mobilePaymentElement = null, CustomerSheetComponent? customerSheet = null) =>
        new(new SessionComponents(paymentElement, pricingTable, buyButton, mobilePaymentElement, customerSheet));
}
