using System.Net.Http.Json;
using System.Text.Json;
using BffSessions.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BffSessions.Tests.Browser;

/// <summary>
/// The compose demo with docker-compose.yml's own settings, without Docker: the API in Production with the api
/// service's variables, the Stripe stand-in's program (what its image runs) with the stripe service's, and
/// tools/oidc-provider with the idp service's, in headless Chromium. Only what needs a container engine is swapped:
/// free ports for 8080, 3000 and 12111 (in every URL), and SQLite for PostgreSQL; no telemetry export.
/// </summary>
[Collection(BrowserPrerequisites.Collection)] // one Chromium at a time: two on two cores miss Playwright's timeouts
public sealed class ComposeDemoTests : StandInTest
{
    private static readonly string[] NotWithoutContainers = ["ConnectionStrings__", "Database__", "OTEL_", "Telemetry__", "ASPNETCORE_"];

    [SkippableFact]
    public async Task The_demo_page_signs_in_gets_a_secret_for_each_element_and_a_deleted_customer_is_let_go_by_webhook()
    {
        BrowserPrerequisites.Require();
        var appPort = FreePort();
        var idpPort = FreePort();
        await using var stripe = await StandInProcess.StartAsync(ComposeFile.Environment("stripe")
            .ToDictionary(e => e.Key, e => (string?)e.Value.Replace("http://api:8080", $"http://localhost:{appPort}", StringComparison.Ordinal)));
        string Here(string value) => value
            .Replace("localhost:8080", $"localhost:{appPort}", StringComparison.Ordinal)
            .Replace("localhost:3000", $"localhost:{idpPort}", StringComparison.Ordinal)
            .Replace("http://stripe:12111", stripe.BaseAddress.ToString().TrimEnd('/'), StringComparison.Ordinal);
        var idp = ComposeFile.Environment("idp").ToDictionary(e => e.Key, e => Here(e.Value));
        idp["OIDC_PORT"] = idpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var settings = ComposeFile.AsSettings(ComposeFile.Environment("api")
            .Where(e => !NotWithoutContainers.Any(prefix => e.Key.StartsWith(prefix, StringComparison.Ordinal)))
            .Select(e => KeyValuePair.Create(e.Key, Here(e.Value))));

        await using var provider = await OidcProviderProcess.StartAsync(idp);
        // compose's Stripe__ApiBase and key (rewritten above) point the API at the stand-in's process, not at the
        // in-process stand-in every StandInTest has.
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
            Assert.Equal("User compose-ada", await page.TextContentAsync("#user-name"));

            // Each element gets a client secret of its own from the stand-in, as it would from Stripe.
            foreach (var (component, call) in new[] { ("paymentElement", "elements"), ("pricingTable", "stripe-pricing-table"), ("buyButton", "stripe-buy-button") })
            {
                await page.ClickAsync($"[data-component={component}]");
                await page.WaitForFunctionAsync($"() => window.__stripe?.calls.some(c => c.fn === '{call}')");
            }

            var secrets = (await page.EvaluateAsync<JsonElement>("() => window.__stripe.calls"))
                .EnumerateArray().Where(c => c.TryGetProperty("customerSessionClientSecret", out _) || c.TryGetProperty("options", out _))
                .Select(c => c.TryGetProperty("customerSessionClientSecret", out var s) ? s.GetString() : c.GetProperty("options").GetProperty("customerSessionClientSecret").GetString())
                .ToList();
            Assert.Equal(3, secrets.Distinct().Count());
            Assert.All(secrets, secret => Assert.StartsWith("cuss_secret_", secret, StringComparison.Ordinal));
            var sessions = await stripe.RequestsToAsync("/v1/customer_sessions");
            Assert.Equal([200, 200, 200], sessions.Select(s => s.GetProperty("status").GetInt32()));
            var creation = Assert.Single(await stripe.RequestsToAsync("/v1/customers"));
            Assert.Equal("compose-ada", creation.GetProperty("form").GetProperty("metadata[user_id]").GetString());
            Assert.Equal(provider.Issuer.ToString().TrimEnd('/'), creation.GetProperty("form").GetProperty("metadata[issuer]").GetString()!.TrimEnd('/'));
            var customer = sessions[0].GetProperty("form").GetProperty("customer").GetString()!;

            // Deleted as in the Dashboard: the stand-in signs customer.deleted with compose's secret, the api takes it,
            // and the user's next element is for a new customer, made before any session call can fail.
            using var deleted = await stripe.Control.PostAsync($"/__standin/customers/{customer}/delete", null);
            Assert.True(deleted.IsSuccessStatusCode);
            await WaitForAsync(async () => (await stripe.Control.GetFromJsonAsync<JsonElement>("/__standin/webhooks"))
                .EnumerateArray().Any(d => d.GetProperty("type").GetString() == "customer.deleted" && d.GetProperty("status").GetInt32() == 200));
            await page.ClickAsync("[data-component=pricingTable]");
            await WaitForAsync(async () => (await stripe.RequestsToAsync("/v1/customer_sessions")).Count == 4);

            var creations = await stripe.RequestsToAsync("/v1/customers");
            Assert.Equal(2, creations.Count);
            Assert.Equal(customer, creations[1].GetProperty("form").GetProperty("metadata[replaces]").GetString());
            Assert.All(await stripe.RequestsToAsync("/v1/customer_sessions"), s => Assert.Equal(200, s.GetProperty("status").GetInt32()));
            Assert.True(string.IsNullOrEmpty(provider.Errors) || !provider.Errors.Contains("error", StringComparison.OrdinalIgnoreCase), provider.Errors);
        }
        finally
        {
            Directory.Delete(userData, recursive: true);
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("The condition did not hold within 30 s.");
    }
}
