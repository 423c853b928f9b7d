using System.Net;
using System.Text;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>
/// Stripe's component rules, each on both sides of its boundary, through the endpoint: a body on the wrong
/// side gets a 400 problem keyed by JSON path and never reaches Stripe; one on the right side gets a session.
/// </summary>
public sealed class ValidationTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    private const string EnabledDisabled = "Must be one of: enabled, disabled.";
    private const string PE = "components.paymentElement.features.";
    private const string MPE = "components.mobilePaymentElement.features.";
    private const string CS = "components.customerSheet.features.";

    public static TheoryData<string, string, string> Invalid => new()
    {
        { """{}""", "components", "components is required." },
        { """{"components":null}""", "components", "components is required." },
        { """{"components":{}}""", "components", "At least one component must be enabled." },
        { """{"components":{"pricingTable":{"enabled":false},"buyButton":{"enabled":false}}}""", "components", "At least one component must be enabled." },
        { """{"components":{"pricingTable":{"enabled":true},"buyButton":{}}}""", "components.buyButton.enabled", "enabled is required (true or false)." },
        { """{"components":{"pricingTable":{"enabled":true},"paymentElement":{"enabled":null}}}""", "components.paymentElement.enabled", "enabled is required (true or false)." },
        { """{"components":{"pricingTable":{}}}""", "components.pricingTable.enabled", "enabled is required (true or false)." },
        { """{"components":{"pricingTable":{"enabled":true},"mobilePaymentElement":{}}}""", "components.mobilePaymentElement.enabled", "enabled is required (true or false)." },
        { """{"components":{"pricingTable":{"enabled":true},"customerSheet":{"features":{}}}}""", "components.customerSheet.enabled", "enabled is required (true or false)." },
        { Pe("""{"paymentMethodRedisplay":"Enabled"}"""), PE + "paymentMethodRedisplay", EnabledDisabled },
        { Pe("""{"paymentMethodRedisplayLimit":0}"""), PE + "paymentMethodRedisplayLimit", "Must be an integer from 1 to 10." },
        { Pe("""{"paymentMethodRedisplayLimit":11}"""), PE + "paymentMethodRedisplayLimit", "Must be an integer from 1 to 10." },
        { Pe("""{"paymentMethodRedisplayLimit":-3}"""), PE + "paymentMethodRedisplayLimit", "Must be an integer from 1 to 10." },
        { Pe("""{"paymentMethodAllowRedisplayFilters":[]}"""), PE + "paymentMethodAllowRedisplayFilters", "Must list at least one of: always, limited, unspecified." },
        { Pe("""{"paymentMethodAllowRedisplayFilters":["always","always"]}"""), PE + "paymentMethodAllowRedisplayFilters", "Each value may appear only once." },
        { Pe("""{"paymentMethodAllowRedisplayFilters":["never"]}"""), PE + "paymentMethodAllowRedisplayFilters", "Each value must be one of: always, limited, unspecified." },
        { Pe("""{"paymentMethodAllowRedisplayFilters":[null]}"""), PE + "paymentMethodAllowRedisplayFilters", "Each value must be one of: always, limited, unspecified." },
        { Pe("""{"paymentMethodSave":"on"}"""), PE + "paymentMethodSave", EnabledDisabled },
        { Pe("""{"paymentMethodSaveUsage":"offsession"}"""), PE + "paymentMethodSaveUsage", "Must be one of: off_session, on_session." },
        { Pe("""{"paymentMethodRemove":""}"""), PE + "paymentMethodRemove", EnabledDisabled },
        { Mpe("""{"paymentMethodRedisplay":"yes"}"""), MPE + "paymentMethodRedisplay", EnabledDisabled },
        { Mpe("""{"paymentMethodAllowRedisplayFilters":[]}"""), MPE + "paymentMethodAllowRedisplayFilters", "Must list at least one of: always, limited, unspecified." },
        { Mpe("""{"paymentMethodSave":"true"}"""), MPE + "paymentMethodSave", EnabledDisabled },
        { Mpe("""{"paymentMethodSaveAllowRedisplayOverride":"sometimes"}"""), MPE + "paymentMethodSaveAllowRedisplayOverride", "Must be one of: always, limited, unspecified." },
        { Mpe("""{"paymentMethodRemove":"DISABLED"}"""), MPE + "paymentMethodRemove", EnabledDisabled },
        { Cs("""{"paymentMethodAllowRedisplayFilters":["limited","limited"]}"""), CS + "paymentMethodAllowRedisplayFilters", "Each value may appear only once." },
        { Cs("""{"paymentMethodRemove":"off"}"""), CS + "paymentMethodRemove", EnabledDisabled },
    };

    public static TheoryData<string> Valid => new()
    {
        """{"components":{"pricingTable":{"enabled":true}}}""",
        """{"components":{"buyButton":{"enabled":true},"pricingTable":{"enabled":false}}}""",
        """{"components":{"paymentElement":{"enabled":true,"features":null}}}""",
        Pe("""{}"""),
        Pe("""{"paymentMethodRedisplay":"enabled","paymentMethodSave":"disabled","paymentMethodRemove":"enabled"}"""),
        Pe("""{"paymentMethodRedisplayLimit":1}"""),
        Pe("""{"paymentMethodRedisplayLimit":10}"""),
        Pe("""{"paymentMethodAllowRedisplayFilters":["always"]}"""),
        Pe("""{"paymentMethodAllowRedisplayFilters":["always","limited","unspecified"]}"""),
        Pe("""{"paymentMethodSaveUsage":"on_session"}"""),
        Mpe("""{"paymentMethodRedisplay":"disabled","paymentMethodSaveAllowRedisplayOverride":"limited","paymentMethodAllowRedisplayFilters":["unspecified"]}"""),
        Cs("""{"paymentMethodAllowRedisplayFilters":["limited","always"],"paymentMethodRemove":"disabled"}"""),
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task A_request_Stripe_would_refuse_gets_a_400_keyed_by_json_path(string body, string path, string message)
    {
        using var response = await PostAsync(body);

        var errors = await HttpAssert.ErrorsAsync(response, BffSessions.Hosting.CommonProblems.InvalidRequest.Type);
        Assert.Equal(message, errors[path]);
        Assert.Empty(Stripe.Requests);
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public async Task A_request_within_Stripes_rules_gets_a_session(string body)
    {
        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(Stripe.RequestsTo("/v1/customer_sessions"));
    }

    [Fact]
    public async Task Every_failing_path_is_reported_at_once_with_one_message_each()
    {
        using var response = await PostAsync("""
            {"components":{"paymentElement":{"enabled":null,"features":{"paymentMethodRedisplayLimit":11,"paymentMethodSave":"x"}},"pricingTable":{"enabled":false}}}
            """);

        var errors = await HttpAssert.ErrorsAsync(response, BffSessions.Hosting.CommonProblems.InvalidRequest.Type);
        Assert.Equal(
            ["components", "components.paymentElement.enabled", PE + "paymentMethodRedisplayLimit", PE + "paymentMethodSave"],
            errors.Keys.Order(StringComparer.Ordinal));
    }

    private static string Pe(string features) => """{"components":{"paymentElement":{"enabled":true,"features":""" + features + "}}}";

    private static string Mpe(string features) => """{"components":{"mobilePaymentElement":{"enabled":true,"features":""" + features + "}}}";

    private static string Cs(string features) => """{"components":{"customerSheet":{"enabled":true,"features":""" + features + "}}}";

    private async Task<HttpResponseMessage> PostAsync(string body)
    {
        using var client = Api.CreateClientFor(NewUserId());
        return await client.PostAsync("/api/customer-sessions", new StringContent(body, Encoding.UTF8, "application/json"));
    }
}
