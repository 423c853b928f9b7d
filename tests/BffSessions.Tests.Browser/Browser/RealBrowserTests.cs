using System.Net;
using System.Text.Json;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace BffSessions.Tests.Browser;

/// <summary>
/// The service on a real port, a real OpenID Connect provider (oidc-provider from npm) and headless Chromium:
/// the whole browser flow, as a user goes through it.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string PublishableKey = "pk_test_browser";
    public const string PricingTableId = "prctbl_browser";

    private IPlaywright? _playwright;
    private readonly List<string> _userDataDirectories = [];

    public StripeStandIn Stripe { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public ApiFactory Api { get; private set; } = null!;

    public OidcProviderProcess Provider { get; private set; } = null!;

    public Uri Application { get; private set; } = null!;

    /// <summary>
    /// A page of another site, on loopback like the application (so Chromium's private-network rules let its requests
    /// through), at 127.0.0.1 where the application is at localhost: a different site, as SameSite reads it.
    /// </summary>
    public Uri OtherSite { get; private set; } = null!;

    private WebApplication? _otherSite;

    public bool Started { get; private set; }

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts everything once, for the first test that runs with the prerequisites present.</summary>
    public async Task EnsureStartedAsync()
    {
        if (Started)
        {
            return;
        }

        var appPort = StandInTest.FreePort();
        Application = new Uri($"http://localhost:{appPort}");
        Stripe = await TestStripe.StartAsync();
        Provider = await OidcProviderProcess.StartAsync(StandInTest.FreePort(), Application);
        Api = new ApiFactory(Stripe, Logs, "Test", new Dictionary<string, string?>
        {
            ["Authentication:Schemes:OpenIdConnect:Authority"] = Provider.Issuer.ToString(),
            ["Authentication:Schemes:OpenIdConnect:ClientId"] = OidcProviderProcess.ClientId,
            ["Authentication:Schemes:OpenIdConnect:ClientSecret"] = OidcProviderProcess.ClientSecret,
            ["Authentication:Schemes:OpenIdConnect:RequireHttpsMetadata"] = "false",
            ["Demo:Enabled"] = "true",
            ["Stripe:PublishableKey"] = PublishableKey,
            ["Stripe:PricingTableId"] = PricingTableId,
        });
        Api.UseKestrel(appPort);
        Api.StartServer();
        OtherSite = new Uri($"http://127.0.0.1:{StandInTest.FreePort()}");
        var otherSite = WebApplication.CreateSlimBuilder();
        otherSite.WebHost.UseUrls(OtherSite.ToString());
        _otherSite = otherSite.Build();
        _otherSite.MapGet("/", () => Results.Content("<!doctype html><title>Another site</title><p>Another site</p>", "text/html"));
        await _otherSite.StartAsync();
        _playwright = await Playwright.CreateAsync();
        Started = true;
    }

    /// <summary>A fresh Chromium profile with Stripe.js answered by the stand-in; nothing else leaves loopback.</summary>
    public async Task<IBrowserContext> NewBrowserAsync()
    {
        var userData = Directory.CreateTempSubdirectory("bffsessions-chromium-").FullName;
        _userDataDirectories.Add(userData);
        return await LaunchChromiumAsync(_playwright!, userData);
    }

    /// <summary>Headless Chromium with a profile in <paramref name="userData"/>; Stripe.js is the stand-in, fonts are refused.</summary>
    public static async Task<IBrowserContext> LaunchChromiumAsync(IPlaywright playwright, string userData)
    {
        var context = await playwright.Chromium.LaunchPersistentContextAsync(userData, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = BrowserPrerequisites.ChromiumPath,
            Headless = true,
            // Launching is not covered by the default timeouts set below; 30 s ran out on a loaded machine.
            Timeout = 120_000,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-quic", "--disable-sync"],
        });
        await context.RouteAsync("https://js.stripe.com/**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200,
            ContentType = "application/javascript",
            Body = StripeJsStandIn.For(route.Request.Url),
        }));
        await context.RouteAsync("https://fonts.googleapis.com/**", route => route.AbortAsync());
        // Playwright's 30 s default is tight on two cores shared with the rest of the suite; a wait that never ends
        // still fails, only later.
        context.SetDefaultTimeout(90_000);
        context.SetDefaultNavigationTimeout(90_000);
        return context;
    }

    /// <summary>The provider's consent page's button (the provider asks each new browser once).</summary>
    private const string ConsentButton = "form:has(input[name=\"prompt\"][value=\"consent\"]) button[type=\"submit\"]";

    /// <summary>Skips (or, under CI, fails) without Chromium, Node or the provider; otherwise a fresh browser with one page.</summary>
    public async Task<IBrowserContext> OpenBrowserAsync()
    {
        BrowserPrerequisites.Require();
        await EnsureStartedAsync();
        var browser = await NewBrowserAsync();
        if (browser.Pages.Count == 0)
        {
            await browser.NewPageAsync();
        }

        return browser;
    }

    /// <summary>From the demo page's Sign in, through the provider, back to the demo page signed in as <paramref name="login"/>.</summary>
    public async Task SignInAtTheProviderAsync(IPage page, string login)
    {
        await page.GotoAsync(Application.ToString());
        await page.ClickAsync("#sign-in");
        await SignInAtTheProvidersPagesAsync(page, login);
        await page.WaitForURLAsync(Application.ToString());
        await page.WaitForSelectorAsync("#signed-in:not([hidden])");
    }

    /// <summary>The provider's login and consent pages, once the browser is on its way there; the provider then sends it back.</summary>
    public async Task SignInAtTheProvidersPagesAsync(IPage page, string login)
    {
        await page.WaitForURLAsync(url => url.StartsWith(Provider.Issuer.ToString(), StringComparison.Ordinal));
        await page.FillAsync("input[name=\"login\"]", login);
        await page.FillAsync("input[name=\"password\"]", "any password");
        await page.ClickAsync("button[type=\"submit\"].login-submit");
        await page.ClickAsync(ConsentButton);
    }

    public async Task DisposeAsync()
    {
        if (!Started)
        {
            return;
        }

        _playwright?.Dispose();
        await Api.DisposeAsync();
        await _otherSite!.DisposeAsync();
        await Provider.DisposeAsync();
        await Stripe.DisposeAsync();
        foreach (var directory in _userDataDirectories)
        {
            Directory.Delete(directory, recursive: true);
        }

        Assert.Empty(Secrets.FoundIn(Logs.Lines));
    }

}

[Collection(BrowserPrerequisites.Collection)]
public sealed class RealBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [SkippableFact]
    public async Task A_user_signs_in_at_the_provider_and_the_page_hands_their_client_secret_to_Stripe_js()
    {
        await using var browser = await OpenBrowserAsync();
        var page = browser.Pages[0];
        var userId = "browser-" + Guid.NewGuid().ToString("N")[..8];

        await SignInAtTheProviderAsync(page, userId);

        // The session cookie, as the browser stored it.
        var cookie = Assert.Single(await browser.CookiesAsync([fixture.Application.ToString()]), c => c.Name == "__Host-bff");
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.Equal("/", cookie.Path);
        Assert.Equal("localhost", cookie.Domain);
        Assert.Equal($"User {userId}", await page.TextContentAsync("#user-name"));

        // Payment Element: the page fetches a session with the cookie and X-CSRF, and gives the secret to Stripe.js.
        await page.ClickAsync("[data-component=paymentElement]");
        await page.WaitForFunctionAsync("() => window.__stripe?.calls.some(c => c.fn === 'mount')");
        var calls = await StripeCallsAsync(page);
        Assert.Equal(BrowserFixture.PublishableKey, calls.Single(c => c.GetProperty("fn").GetString() == "Stripe").GetProperty("publishableKey").GetString());
        var elements = calls.Single(c => c.GetProperty("fn").GetString() == "elements").GetProperty("options");
        var paymentElementSecret = elements.GetProperty("customerSessionClientSecret").GetString()!;
        Assert.Equal(fixture.Stripe.IssuedSecrets[^1], paymentElementSecret);
        var customer = fixture.Stripe.RequestsTo("/v1/customers").Single(c => c.Form["metadata[user_id]"] == userId);
        Assert.Equal($"{userId}@example.com", customer.Form["email"]);
        var session = fixture.Stripe.RequestsTo("/v1/customer_sessions")[^1];
        Assert.Equal("true", session.Form["components[payment_element][enabled]"]);
        Assert.Equal("enabled", session.Form["components[payment_element][features][payment_method_redisplay]"]);

        // Pricing table: a fresh session for this render, handed over as the element's attribute.
        await page.ClickAsync("[data-component=pricingTable]");
        await page.WaitForFunctionAsync("() => window.__stripe.calls.some(c => c.fn === 'stripe-pricing-table')");
        var table = (await StripeCallsAsync(page)).Single(c => c.GetProperty("fn").GetString() == "stripe-pricing-table");
        Assert.Equal(BrowserFixture.PricingTableId, table.GetProperty("id").GetString());
        var tableSecret = table.GetProperty("customerSessionClientSecret").GetString()!;
        Assert.Equal(fixture.Stripe.IssuedSecrets[^1], tableSecret);
        Assert.NotEqual(paymentElementSecret, tableSecret);

        // The same call without the CSRF header is refused, with the cookie present.
        Assert.Equal(401, await FetchSessionStatusAsync(page, withCsrfHeader: false));
        Assert.Equal(200, await FetchSessionStatusAsync(page, withCsrfHeader: true));

        // Sign out through the page: the session ends here and at the provider.
        await page.ClickAsync("#sign-out");
        await page.WaitForSelectorAsync("#signed-out:not([hidden])");
        Assert.DoesNotContain(await browser.CookiesAsync([fixture.Application.ToString()]), c => c.Name == "__Host-bff");
        Assert.Equal(401, await FetchSessionStatusAsync(page, withCsrfHeader: true));
    }

    [SkippableFact]
    public async Task A_page_on_another_origin_cannot_obtain_a_session_for_the_signed_in_user()
    {
        await using var browser = await OpenBrowserAsync();
        var page = browser.Pages[0];
        await SignInAtTheProviderAsync(page, "cross-origin-" + Guid.NewGuid().ToString("N")[..8]);
        var sessionsBefore = fixture.Stripe.RequestsTo("/v1/customer_sessions").Count;

        await page.GotoAsync(fixture.OtherSite.ToString());
        var withCredentials = await page.EvaluateAsync<string>("""
            async (url) => {
              try {
                const response = await fetch(url, { method: 'POST', credentials: 'include',
                  headers: { 'Content-Type': 'application/json', 'X-CSRF': '1' },
                  body: JSON.stringify({ components: { pricingTable: { enabled: true } } }) });
                return 'answered ' + response.status + ' ' + await response.text();
              } catch (error) {
                return 'blocked';
              }
            }
            """, new Uri(fixture.Application, "/api/customer-sessions").ToString());
        // Requests that need no preflight: a "simple" fetch, and the top-level navigation SameSite=Lax would let a
        // cookie ride on. The browser sends both; the server is the witness that they came without the session (a
        // cookie without the CSRF header would be refused, and logged as such).
        static bool Arrived(string line) => System.Text.RegularExpressions.Regex.IsMatch(line, "HTTP \"?GET\"? \"?/bff/user\"? responded 401");
        static bool Refused(string line) => line.Contains("Refused a cookie-authenticated", StringComparison.Ordinal);
        var arrivedBefore = fixture.Logs.Lines.Count(Arrived);
        var refusedBefore = fixture.Logs.Lines.Count(Refused);
        var user = new Uri(fixture.Application, "/bff/user").ToString();
        await page.EvaluateAsync("url => fetch(url, { mode: 'no-cors', credentials: 'include' }).catch(() => {})", user);
        await page.EvaluateAsync("url => { location.href = url; }", user); // the page navigates, not the user
        await page.WaitForURLAsync(user);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (fixture.Logs.Lines.Count(Arrived) < arrivedBefore + 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal("blocked", withCredentials);
        Assert.Equal(arrivedBefore + 2, fixture.Logs.Lines.Count(Arrived));
        Assert.Equal(refusedBefore, fixture.Logs.Lines.Count(Refused));
        Assert.Equal(sessionsBefore, fixture.Stripe.RequestsTo("/v1/customer_sessions").Count);
    }

    /// <summary>
    /// A copy of the cookie, taken while the user was signed in, dies the moment the user signs out: the session was
    /// the row, and the row is gone. The session kept only what the BFF needs: the provider's sid and the id token.
    /// </summary>
    [SkippableFact]
    public async Task Signing_out_ends_a_stolen_copy_of_the_cookie_too()
    {
        await using var browser = await OpenBrowserAsync();
        var page = browser.Pages[0];
        var userId = "stolen-" + Guid.NewGuid().ToString("N")[..8];
        await SignInAtTheProviderAsync(page, userId);
        var stolen = await SessionCookieAsync(browser);
        using var thief = new HttpClient { BaseAddress = fixture.Application };
        Assert.Equal(HttpStatusCode.OK, await GetUserWithAsync(thief, stolen));

        var session = await SessionRowAsync(userId);
        Assert.Equal(fixture.Provider.Issuer.ToString().TrimEnd('/'), session.Issuer.TrimEnd('/'));
        Assert.NotNull(session.Sid);
        var ticket = TicketSerializer.Default.Deserialize(fixture.Api.Services.GetRequiredService<IDataProtectionProvider>()
            .CreateProtector(BrowserSessionStore.TicketProtection).Unprotect(session.Ticket))!;
        Assert.Equal(["id_token"], ticket.Properties.GetTokens().Select(t => t.Name));
        Assert.Equal(session.Sid, ticket.Principal.FindFirst("sid")?.Value);

        await page.ClickAsync("#sign-out");
        await page.WaitForSelectorAsync("#signed-out:not([hidden])");

        Assert.Equal(HttpStatusCode.Unauthorized, await GetUserWithAsync(thief, stolen));
        using var afterwards = await BffRequests.PostSessionAsync(thief, stolen);
        Assert.Equal(HttpStatusCode.Unauthorized, afterwards.StatusCode);
    }

    /// <summary>
    /// Signing out at the provider (OpenID Connect Back-Channel Logout): the provider posts a signed logout token to
    /// /bff/backchannel, and the session here ends with it, in the browser and for every copy of its cookie.
    /// </summary>
    [SkippableFact]
    public async Task Signing_out_at_the_provider_ends_the_session_here()
    {
        await using var browser = await OpenBrowserAsync();
        var page = browser.Pages[0];
        var userId = "backchannel-" + Guid.NewGuid().ToString("N")[..8];
        await SignInAtTheProviderAsync(page, userId);
        var copy = await SessionCookieAsync(browser);
        using var other = new HttpClient { BaseAddress = fixture.Application };
        Assert.Equal(HttpStatusCode.OK, await GetUserWithAsync(other, copy));

        // The provider's own logout page, not ours: it confirms itself and calls every client's back-channel URI first.
        await page.GotoAsync(new Uri(fixture.Provider.Issuer, "/session/end").ToString());
        await page.WaitForURLAsync(url => url.Contains("/session/end/success", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Unauthorized, await GetUserWithAsync(other, copy));
        await page.GotoAsync(fixture.Application.ToString());
        await page.WaitForSelectorAsync("#signed-out:not([hidden])");
        Assert.Null(await SessionRowOrNullAsync(userId));
        Assert.DoesNotContain("backchannel.error", fixture.Provider.Errors, StringComparison.Ordinal);
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("Ended 1 browser session(s): \"one session\"", StringComparison.Ordinal));
    }

    private async Task<string> SessionCookieAsync(IBrowserContext browser) =>
        "__Host-bff=" + Assert.Single(await browser.CookiesAsync([fixture.Application.ToString()]), c => c.Name == "__Host-bff").Value;

    private static async Task<HttpStatusCode> GetUserWithAsync(HttpClient client, string cookie)
    {
        using var response = await BffRequests.GetUserAsync(client, cookie);
        return response.StatusCode;
    }

    private async Task<BrowserSession?> SessionRowOrNullAsync(string subject)
    {
        await using var db = await fixture.Api.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        return await db.BrowserSessions.AsNoTracking().SingleOrDefaultAsync(s => s.Subject == subject);
    }

    private async Task<BrowserSession> SessionRowAsync(string subject) =>
        await SessionRowOrNullAsync(subject) ?? throw new InvalidOperationException($"No session row for {subject}.");

    /// <summary>Claims Stripe would refuse, from a real provider's ID token: cleaned, cut or left out, and the user is served.</summary>
    [SkippableFact]
    public async Task A_provider_user_with_claims_Stripe_would_refuse_still_gets_a_session()
    {
        await using var browser = await OpenBrowserAsync();
        var page = browser.Pages[0];
        await SignInAtTheProviderAsync(page, HostileClaims.Login);

        await page.ClickAsync("[data-component=pricingTable]");
        await page.WaitForFunctionAsync("() => window.__stripe?.calls.some(c => c.fn === 'stripe-pricing-table')");

        var creation = Assert.Single(fixture.Stripe.RequestsTo("/v1/customers"), c => c.Form["metadata[user_id]"] == HostileClaims.Login);
        Assert.Equal(200, creation.Status);
        Assert.Equal(HostileClaims.StripeName, creation.Form["name"]);
        Assert.False(creation.Form.ContainsKey("email"));
        Assert.Equal(200, fixture.Stripe.RequestsTo("/v1/customer_sessions")[^1].Status);
    }

    private Task<IBrowserContext> OpenBrowserAsync() => fixture.OpenBrowserAsync();

    private Task SignInAtTheProviderAsync(IPage page, string login) => fixture.SignInAtTheProviderAsync(page, login);

    private static async Task<List<JsonElement>> StripeCallsAsync(IPage page) =>
        (await page.EvaluateAsync<JsonElement>("() => window.__stripe.calls")).EnumerateArray().ToList();

    private static Task<int> FetchSessionStatusAsync(IPage page, bool withCsrfHeader) =>
        page.EvaluateAsync<int>("""
            async (csrf) => (await fetch('/api/customer-sessions', { method: 'POST', credentials: 'same-origin',
              headers: Object.assign({ 'Content-Type': 'application/json' }, csrf ? { 'X-CSRF': '1' } : {}),
              body: JSON.stringify({ components: { pricingTable: { enabled: true } } }) })).status
            """, withCsrfHeader);
}
