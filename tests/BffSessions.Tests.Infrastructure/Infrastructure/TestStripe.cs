using System.Net.Http.Json;

namespace BffSessions.Tests.Infrastructure;

/// <summary>
/// The Stripe stand-in as most tests use it: every Stripe rule kept, on an account whose rate limits Stripe raised
/// (<see cref="RaisedLimit"/> calls/s), because those tests are about something else and send bursts a sandbox's 25/s
/// would refuse. The tests of Stripe's rate limit and of the budget set the limits they are about
/// (<see cref="StripeRateLimit.Enforce"/>), and <c>StripeStandInTests</c> checks that Stripe's own are the default.
/// </summary>
public static class TestStripe
{
    public const int RaisedLimit = 10_000;

    public static Task<StripeStandIn> StartAsync() => StripeStandIn.StartAsync(new StandInOptions { RateLimits = RateLimits.Raised(RaisedLimit) });

    /// <summary>A customer Stripe already knows, made over HTTP the way the service makes them, for <paramref name="userId"/>.</summary>
    public static async Task<string> CreateCustomerAsync(this StripeStandIn stripe, string userId)
    {
        using var http = new HttpClient { BaseAddress = stripe.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiFactory.StripeKey);
        using var response = await http.PostAsync("/v1/customers", new FormUrlEncodedContent(new Dictionary<string, string> { ["metadata[user_id]"] = userId }));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;
    }
}
