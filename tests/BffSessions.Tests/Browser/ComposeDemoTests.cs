using BffSessions.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BffSessions.Tests.Browser;

/// <summary>
/// The compose demo's sign-in with docker-compose.yml's own settings, without Docker: the API in Production with the
/// api service's variables and tools/oidc-provider with the idp service's, in headless Chromium. Only what needs a
/// container engine is swapped: free ports for 8080 and 3000 (in every URL), SQLite and a loopback Stripe stand-in
/// for PostgreSQL and stripe-mock, and no telemetry export.
/// </summary>
[Collection(BrowserPrerequisites.Collection)] // one Chromium at a time: two on two cores miss Playwright's timeouts
public sealed class ComposeDemoTests : StandInTest
{
    private static readonly string[] NotWithoutContainers =
        ["ConnectionStrings__", "Database__", "Stripe__SecretKey", "Stripe__ApiBase", "OTEL_", "Telemetry__", "ASPNETCORE_"];

    [SkippableFact]
    public async Task The_demo_page_signs_in_at_the_stacks_provider_and_gets_a_session_in_Production()
    {
        BrowserPrerequisites.Require();
        var appPort = FreePort();
        var idpPort = FreePort();
        string Here(string value) => value
            .Replace("localhost:8080", $"localhost:{appPort}", StringComparison.Ordinal)
            .Replace("localhost:3000", $"localhost:{idpPort}", StringComparison.Ordinal);
        var idp = ComposeFile.Environment("idp").ToDictionary(e => e.Key, e => Here(e.Value));
        idp["OIDC_PORT"] = idpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var settings = ComposeFile.AsSettings(ComposeFile.Environment("api")
            .Where(e => !NotWithoutContainers.Any(prefix => e.Key.StartsWith(prefix, StringComparison.Ordinal)))
            .Select(e => KeyValuePair.Create(e.Key, Here(e.Value))));

        await using var provider = await OidcProviderProcess.StartAsync(idp);
        await using var api = new ApiFactory(Stripe, Logs, "Production", settings);
        api.UseKestrel(appPort);
        api.StartServer();
        using var playwright = await Playwright.CreateAsync();
        var userData = Directory.CreateTempSubdirectory("bffsessions-chromium-").FullName;
        try
        {
            await using var browser = await BrowserFixture.LaunchChromiumAsync(playwright, userData);
            var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
            var application = $"http://localhost:{appPort}/";

            await page.GotoAsync(application);
            await page.ClickAsync("#sign-in");
            await page.WaitForURLAsync(url => url.StartsWith(provider.Issuer.ToString(), StringComparison.Ordinal));
            await page.FillAsync("input[name=\"login\"]", "compose-ada");
            await page.FillAsync("input[name=\"password\"]", "any password");
            await page.ClickAsync("button[type=\"submit\"].login-submit"); // OIDC_AUTO_CONSENT: no consent page
            await page.WaitForURLAsync(application);
            await page.WaitForSelectorAsync("#signed-in:not([hidden])");
            await page.ClickAsync("[data-component=pricingTable]");
            await page.WaitForFunctionAsync("() => window.__stripe?.calls.some(c => c.fn === 'stripe-pricing-table')");

            Assert.Equal("User compose-ada", await page.TextContentAsync("#user-name"));
            var customer = Assert.Single(Stripe.RequestsTo("/v1/customers"));
            Assert.Equal("compose-ada", customer.Form["metadata[user_id]"]);
            Assert.Equal(provider.Issuer.ToString().TrimEnd('/'), customer.Form["metadata[issuer]"].TrimEnd('/'));
            Assert.Equal("true", Stripe.RequestsTo("/v1/customer_sessions")[^1].Form["components[pricing_table][enabled]"]);
            Assert.True(string.IsNullOrEmpty(provider.Errors) || !provider.Errors.Contains("error", StringComparison.OrdinalIgnoreCase), provider.Errors);
        }
        finally
        {
            Directory.Delete(userData, recursive: true);
        }
    }
}
