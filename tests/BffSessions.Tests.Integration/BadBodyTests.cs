using System.Net;
using System.Net.Http.Headers;
using System.Text;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>Bodies the JSON reader refuses: each gets a 400 (or 415) problem naming where it broke, never a 500.</summary>
public sealed class BadBodyTests(ServiceFixture fixture) : ServiceTest(fixture)
{
    public static TheoryData<string, string, string> Unreadable => new()
    {
        { """{"components":""", "components", "The body is not valid JSON." },
        { """{"components":{"pricingTable":{"enabled":true}}} trailing""", "$", "The body is not valid JSON." },
        { """[1,2]""", "$", "The value has the wrong JSON type: this member takes an object." },
        { """{"components":{"pricingTable":{"enabled":"yes"}}}""", "components.pricingTable.enabled", "The value has the wrong JSON type: this member takes true or false." },
        { """{"components":{"paymentElement":{"enabled":"true"}}}""", "components.paymentElement.enabled", "The value has the wrong JSON type: this member takes true or false." },
        { """{"components":"pricingTable"}""", "components", "The value has the wrong JSON type: this member takes an object." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodRedisplayLimit":99999999999999}}}}""", "components.paymentElement.features.paymentMethodRedisplayLimit", "The value has the wrong JSON type: this member takes a whole number (at most 2147483647)." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodRedisplay":true}}}}""", "components.paymentElement.features.paymentMethodRedisplay", "The value has the wrong JSON type: this member takes a string." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodRedisplayLimit":3.5}}}}""", "components.paymentElement.features.paymentMethodRedisplayLimit", "The value has the wrong JSON type: this member takes a whole number (at most 2147483647)." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodRedisplayLimit":"3"}}}}""", "components.paymentElement.features.paymentMethodRedisplayLimit", "The value has the wrong JSON type: this member takes a whole number (at most 2147483647)." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodAllowRedisplayFilters":"always"}}}}""", "components.paymentElement.features.paymentMethodAllowRedisplayFilters", "The value has the wrong JSON type: this member takes an array." },
        { """{"components":{"pricingTable":{"enabled":true}},"customer":"cus_someone_else"}""", "customer", "This member is not part of the request; remove it." },
        { """{"components":{"pricingTable":{"enabled":true,"features":{}}}}""", "components.pricingTable.features", "This member is not part of the request; remove it." },
        { """{"components":{"buyButton":{"enabled":true,"features":{"paymentMethodRemove":"enabled"}}}}""", "components.buyButton.features", "This member is not part of the request; remove it." },
        { """{"components":{"customerSheet":{"enabled":true,"features":{"paymentMethodSave":"enabled"}}}}""", "components.customerSheet.features.paymentMethodSave", "This member is not part of the request; remove it." },
        { """{"components":{"paymentElement":{"enabled":true,"features":{"paymentMethodSaveAllowRedisplayOverride":"always"}}}}""", "components.paymentElement.features.paymentMethodSaveAllowRedisplayOverride", "This member is not part of the request; remove it." },
        { """{"Components":{"pricingTable":{"enabled":true}}}""", "Components", "This member is not part of the request; remove it." },
        { """{"components":{"pricing_table":{"enabled":true}}}""", "components.pricing_table", "This member is not part of the request; remove it." },
        { """{"components":{"pricingTable":{"enabled":true}},"components":{}}""", "components", "This member appears more than once." },
        { """{"components":{"pricingTable":{"enabled":false,"enabled":true}}}""", "components.pricingTable.enabled", "This member appears more than once." },
    };

    [Theory]
    [MemberData(nameof(Unreadable))]
    public async Task An_unreadable_body_gets_a_400_problem_naming_the_path(string body, string path, string message)
    {
        using var response = await PostAsync(new StringContent(body, Encoding.UTF8, "application/json"));

        var errors = await HttpAssert.ErrorsAsync(response, BffSessions.Hosting.CommonProblems.InvalidBody.Type);
        Assert.Equal(message, Assert.Single(errors, e => e.Key == path).Value);
        Assert.Empty(Stripe.Requests);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    public async Task An_empty_body_gets_a_400_problem(string body)
    {
        using var response = await PostAsync(new StringContent(body, Encoding.UTF8, "application/json"));

        var errors = await HttpAssert.ErrorsAsync(response, BffSessions.Hosting.CommonProblems.InvalidBody.Type);
        Assert.Equal("A JSON body is required.", errors["$"]);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task A_body_that_is_not_JSON_gets_a_415_problem(string contentType)
    {
        var content = new StringContent("components=pricingTable", Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);

        using var response = await PostAsync(content);

        var problem = await HttpAssert.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(BffSessions.Hosting.CommonProblems.UnsupportedMediaType.Type, problem.GetProperty("type").GetString());
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(Stripe.Requests);
    }

    [Fact]
    public async Task Only_POST_is_served()
    {
        using var client = Api.CreateClientFor(NewUserId());

        using var response = await client.GetAsync("/api/customer-sessions");

        await HttpAssert.ProblemAsync(response, HttpStatusCode.MethodNotAllowed);
    }

    private async Task<HttpResponseMessage> PostAsync(HttpContent content)
    {
        using var client = Api.CreateClientFor(NewUserId());
        return await client.PostAsync("/api/customer-sessions", content);
    }
}
