using System.Text.Json;
using BffSessions.Api.CustomerSessions;
using BffSessions.Tests.Infrastructure;
using Microsoft.Playwright;

namespace BffSessions.Tests.Browser;

/// <summary>
/// The browser kit as a page uses it: the demo page, served by the service under its CSP, imports
/// /bff/customer-sessions.js from the service into headless Chromium and asks the real service for sessions, in cookie
/// and bearer mode, through a 503, a renewal before expiry, an abort and a 401. (Its own npm tests cover every branch
/// on fake timers; these prove the served file does the same against the real service and a real browser.)
/// </summary>
[Collection(BrowserPrerequisites.Collection)]
public sealed class BrowserKitTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const string SessionsPath = "/v1/customer_sessions";

    [SkippableFact]
    public async Task A_signed_in_page_gets_a_secret_in_cookie_mode_with_its_cookie_and_the_CSRF_header()
    {
        await using var browser = await fixture.OpenBrowserAsync();
        var page = browser.Pages[0];
        var userId = "kit-cookie-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.SignInAtTheProviderAsync(page, userId);
        var posts = new SessionPosts(page);
        await ImportKitAsync(page);

        var session = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const session = await kit.createCustomerSessions().create(
                { paymentElement: { enabled: true, features: { paymentMethodRedisplay: 'enabled' } } });
              return { clientSecret: session.clientSecret, expiresAt: session.expiresAt.toISOString(),
                expiresAtIsADate: session.expiresAt instanceof Date, hasCustomerId: 'customerId' in session };
            }
            """);

        Assert.Equal(fixture.Stripe.IssuedSecrets[^1], session.GetProperty("clientSecret").GetString());
        Assert.True(session.GetProperty("expiresAtIsADate").GetBoolean());
        Assert.InRange(DateTimeOffset.Parse(session.GetProperty("expiresAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.AddMinutes(25), DateTimeOffset.UtcNow.AddMinutes(31));
        Assert.False(session.GetProperty("hasCustomerId").GetBoolean());
        var stripeCall = fixture.Stripe.RequestsTo(SessionsPath)[^1];
        Assert.Equal(CustomerOf(userId), stripeCall.Form["customer"]);
        Assert.Equal("enabled", stripeCall.Form["components[payment_element][features][payment_method_redisplay]"]);
        var headers = await Assert.Single(posts.All).AllHeadersAsync();
        Assert.Equal("1", headers["x-csrf"]);
        Assert.Contains("__Host-bff=", headers["cookie"], StringComparison.Ordinal);
        Assert.False(headers.ContainsKey("authorization"));
    }

    /// <summary>
    /// The browser holds user A's session cookie, and the page gives the kit user B's token: the session is B's, and the
    /// request carried the token alone (no cookie, no CSRF header), so whatever cookie the browser holds plays no part.
    /// </summary>
    [SkippableFact]
    public async Task With_getAccessToken_the_page_gets_a_secret_in_bearer_mode_without_sending_the_cookie()
    {
        await using var browser = await fixture.OpenBrowserAsync();
        var page = browser.Pages[0];
        await fixture.SignInAtTheProviderAsync(page, "kit-cookie-holder-" + Guid.NewGuid().ToString("N")[..8]);
        var bearerUser = "kit-bearer-" + Guid.NewGuid().ToString("N")[..8];
        var token = ApiFactory.Token(bearerUser, $"{bearerUser}@example.com");
        var posts = new SessionPosts(page);
        await ImportKitAsync(page);

        var session = await page.EvaluateAsync<JsonElement>("""
            async (token) => {
              const sessions = kit.createCustomerSessions({ getAccessToken: async () => token });
              const session = await sessions.create({ customerSheet: { enabled: true } });
              return { clientSecret: session.clientSecret, customerId: session.customerId };
            }
            """, token);

        Assert.Equal(fixture.Stripe.IssuedSecrets[^1], session.GetProperty("clientSecret").GetString());
        Assert.Equal(CustomerOf(bearerUser), session.GetProperty("customerId").GetString());
        Assert.Equal(CustomerOf(bearerUser), fixture.Stripe.RequestsTo(SessionsPath)[^1].Form["customer"]);
        var headers = await Assert.Single(posts.All).AllHeadersAsync();
        Assert.Equal("Bearer " + token, headers["authorization"]);
        Assert.False(headers.ContainsKey("cookie"), "the bearer call sent the browser's cookie");
        Assert.False(headers.ContainsKey("x-csrf"));
    }

    /// <summary>Stripe rate-limits the first call: the service answers 503 with Retry-After, and the kit waits that long and asks again.</summary>
    [SkippableFact]
    public async Task A_503_with_Retry_After_is_waited_out_and_the_retry_gets_the_secret()
    {
        await using var browser = await fixture.OpenBrowserAsync();
        var page = browser.Pages[0];
        await ImportKitAsync(page);
        var token = ApiFactory.Token("kit-retry-" + Guid.NewGuid().ToString("N")[..8]);
        var stripeCallsBefore = fixture.Stripe.RequestsTo(SessionsPath).Count;
        fixture.Stripe.Inject(new Fault { Path = SessionsPath, Status = 429, Type = "invalid_request_error", Code = "rate_limit", Message = "Too many requests.", Times = 1 });

        var result = await page.EvaluateAsync<JsonElement>("""
            async (token) => {
              const answers = [];
              // The kit's fetch option, to see each answer the kit got and when it asked.
              const fetch = async (url, init) => {
                const answer = { sentAt: Date.now() };
                answers.push(answer);
                const response = await globalThis.fetch(url, init);
                Object.assign(answer, { answeredAt: Date.now(), status: response.status, retryAfter: response.headers.get('Retry-After'),
                  contentType: response.headers.get('Content-Type') });
                return response;
              };
              const session = await kit.createCustomerSessions({ getAccessToken: () => token, fetch }).create({ buyButton: { enabled: true } });
              return { clientSecret: session.clientSecret, answers };
            }
            """, token);

        var answers = result.GetProperty("answers").EnumerateArray().ToList();
        Assert.Equal([503, 200], answers.Select(a => a.GetProperty("status").GetInt32()));
        Assert.Equal("application/problem+json", answers[0].GetProperty("contentType").GetString());
        var retryAfter = int.Parse(answers[0].GetProperty("retryAfter").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 10); // within the kit's default maxRetryAfterSeconds, or it would not have waited
        var waited = answers[1].GetProperty("sentAt").GetInt64() - answers[0].GetProperty("answeredAt").GetInt64();
        Assert.True(waited >= retryAfter * 1000 - 50, $"the retry went {waited} ms after a Retry-After of {retryAfter} s");
        Assert.Equal(fixture.Stripe.IssuedSecrets[^1], result.GetProperty("clientSecret").GetString());
        Assert.Equal([429, 200], fixture.Stripe.RequestsTo(SessionsPath).Skip(stripeCallsBefore).Select(r => r.Status));
    }

    /// <summary>
    /// Sessions that expire 70 s after they are made, and refreshBeforeSeconds 58 (a renewal 12 s later, past the kit's
    /// 10 s floor): keepFresh hands over the next secret before the last one expires, not before it is due; after the
    /// abort it resolves and asks nothing more.
    /// </summary>
    [SkippableFact]
    public async Task KeepFresh_renews_before_expiry_and_asks_nothing_more_once_aborted()
    {
        const int RefreshBeforeSeconds = 58;
        await using var browser = await fixture.OpenBrowserAsync();
        var page = browser.Pages[0];
        await ImportKitAsync(page);
        var posts = new SessionPosts(page);
        var token = ApiFactory.Token("kit-fresh-" + Guid.NewGuid().ToString("N")[..8]);
        var lifetime = fixture.Stripe.Options.SessionLifetime;
        fixture.Stripe.Options.SessionLifetime = TimeSpan.FromSeconds(70);
        try
        {
            await page.EvaluateAsync("""
                ([token, refreshBeforeSeconds]) => {
                  const controller = new AbortController();
                  const fresh = window.fresh = { controller, secrets: [], resolved: false, error: null };
                  kit.createCustomerSessions({ getAccessToken: () => token })
                    .keepFresh({ paymentElement: { enabled: true } }, (session) => {
                      fresh.secrets.push({ clientSecret: session.clientSecret, expiresAt: session.expiresAt.getTime(), at: Date.now() });
                    }, { signal: controller.signal, refreshBeforeSeconds })
                    .then(() => { fresh.resolved = true; }, (error) => { fresh.error = String(error); });
                }
                """, new object[] { token, RefreshBeforeSeconds });
            await page.WaitForFunctionAsync("() => window.fresh.secrets.length >= 2 || window.fresh.error");
            await page.EvaluateAsync("() => window.fresh.controller.abort()");
            await page.WaitForFunctionAsync("() => window.fresh.resolved || window.fresh.error");
            var postsAtAbort = posts.All.Count;
            var stripeCallsAtAbort = fixture.Stripe.RequestsTo(SessionsPath).Count;
            var secrets = (await page.EvaluateAsync<JsonElement>("() => window.fresh.secrets")).EnumerateArray().ToList();

            // Past the moment the next renewal was due, with time to spare: nothing was asked, nothing handed over.
            var nextDue = secrets[^1].GetProperty("expiresAt").GetInt64() - RefreshBeforeSeconds * 1000;
            await page.WaitForFunctionAsync("due => Date.now() > due + 3000", nextDue, new() { PollingInterval = 200 });
            var after = await page.EvaluateAsync<JsonElement>("() => ({ secrets: window.fresh.secrets.length, error: window.fresh.error })");

            Assert.Equal(JsonValueKind.Null, after.GetProperty("error").ValueKind);
            Assert.True(secrets.Count >= 2);
            var (first, second) = (secrets[0], secrets[1]);
            Assert.NotEqual(first.GetProperty("clientSecret").GetString(), second.GetProperty("clientSecret").GetString());
            Assert.Contains(second.GetProperty("clientSecret").GetString(), fixture.Stripe.IssuedSecrets);
            var firstExpiresAt = first.GetProperty("expiresAt").GetInt64();
            Assert.True(second.GetProperty("at").GetInt64() >= firstExpiresAt - RefreshBeforeSeconds * 1000, "renewed before it was due");
            Assert.True(second.GetProperty("at").GetInt64() < firstExpiresAt, "renewed only after the secret had expired");
            Assert.Equal(secrets.Count, after.GetProperty("secrets").GetInt32());
            Assert.Equal(postsAtAbort, posts.All.Count);
            Assert.Equal(stripeCallsAtAbort, fixture.Stripe.RequestsTo(SessionsPath).Count);
            Assert.Equal(secrets.Count, postsAtAbort);
        }
        finally
        {
            fixture.Stripe.Options.SessionLifetime = lifetime;
        }
    }

    /// <summary>
    /// Signed out, in cookie mode: the 401 calls onSignInRequired with /bff/login and this page's path and query, then
    /// rejects with the problem. By default the kit goes there, and the URL brings the user back to the same page, signed in.
    /// </summary>
    [SkippableFact]
    public async Task A_401_in_cookie_mode_asks_the_page_to_sign_in_and_the_login_URL_leads_back_to_it()
    {
        await using var browser = await fixture.OpenBrowserAsync();
        var page = browser.Pages[0];
        await ImportKitAsync(page, "/?from=kit&step=2");
        var stripeCallsBefore = fixture.Stripe.RequestsTo(SessionsPath).Count;

        var refused = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const asked = [];
              try {
                await kit.createCustomerSessions({ onSignInRequired: (loginUrl) => asked.push(loginUrl) }).create({ pricingTable: { enabled: true } });
                return { asked, resolved: true };
              } catch (error) {
                return { asked, isCustomerSessionError: error instanceof kit.CustomerSessionError, status: error.status, type: error.type,
                  traceId: error.problem?.traceId ?? null };
              }
            }
            """);

        Assert.Equal(["/bff/login?returnUrl=%2F%3Ffrom%3Dkit%26step%3D2"], refused.GetProperty("asked").EnumerateArray().Select(u => u.GetString()));
        Assert.False(refused.TryGetProperty("resolved", out _));
        Assert.True(refused.GetProperty("isCustomerSessionError").GetBoolean());
        Assert.Equal(401, refused.GetProperty("status").GetInt32());
        Assert.Equal("urn:bffsessions:problem:unauthorized", refused.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(refused.GetProperty("traceId").GetString()));
        Assert.Equal(stripeCallsBefore, fixture.Stripe.RequestsTo(SessionsPath).Count);

        // The default onSignInRequired: location.assign(loginUrl), to the provider and back to /?from=kit&step=2.
        await page.EvaluateAsync("() => { kit.createCustomerSessions().create({ pricingTable: { enabled: true } }).catch(() => {}); }");
        await fixture.SignInAtTheProvidersPagesAsync(page, "kit-signed-out-" + Guid.NewGuid().ToString("N")[..8]);
        await page.WaitForURLAsync(new Uri(fixture.Application, "/?from=kit&step=2").ToString());
        await page.WaitForSelectorAsync("#signed-in:not([hidden])");
    }

    /// <summary>
    /// Opens <paramref name="pathAndQuery"/> of the application (the demo page, with its CSP) and imports the kit from the
    /// service as the page's own scripts would, into <c>window.kit</c>.
    /// </summary>
    private async Task ImportKitAsync(IPage page, string pathAndQuery = "/")
    {
        await page.GotoAsync(new Uri(fixture.Application, pathAndQuery).ToString());
        var exports = await page.EvaluateAsync<string[]>($$"""
            async () => {
              window.kit = await import('{{BrowserKit.Path}}');
              return Object.keys(window.kit).sort();
            }
            """);
        Assert.Equal(["CustomerSessionError", "createCustomerSessions", "setElementSecret", "updateElements"], exports);
    }

    private string CustomerOf(string userId) => fixture.Stripe.Customers.Single(c => c.UserId == userId).Id;

    /// <summary>Every POST /api/customer-sessions the page sends, as Chromium sent it (headers included).</summary>
    private sealed class SessionPosts
    {
        private readonly List<IRequest> _requests = [];

        public SessionPosts(IPage page) => page.Request += (_, request) =>
        {
            if (request.Method == "POST" && new Uri(request.Url).AbsolutePath == "/api/customer-sessions")
            {
                lock (_requests)
                {
                    _requests.Add(request);
                }
            }
        };

        public IReadOnlyList<IRequest> All
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }
    }
}
