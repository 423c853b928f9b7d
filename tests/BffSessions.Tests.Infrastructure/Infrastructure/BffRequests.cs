using System.Net.Http.Json;
using System.Text.Json;

namespace BffSessions.Tests.Infrastructure;

/// <summary>What a browser does at the BFF's endpoints, for the tests of the cookie half.</summary>
public static class BffRequests
{
    public static readonly object PricingTable = new { components = new { pricingTable = new { enabled = true } } };

    /// <summary>Posts the Development sign-in form, as the page's own form would.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string userId, string? email = null, string returnUrl = "/") =>
        await client.PostAsync("/bff/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userId"] = userId,
            ["email"] = email ?? $"{userId}@example.com",
            ["name"] = userId,
            ["returnUrl"] = returnUrl,
        }));

    /// <summary>The session cookie a response set, as "name=value", ready to be copied into another client.</summary>
    public static string SessionCookieOf(HttpResponseMessage response) =>
        response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-bff=", StringComparison.Ordinal)).Split(';')[0];

    /// <summary>A request that carries the CSRF header, and a copied cookie when given (a client without a cookie jar).</summary>
    public static HttpRequestMessage WithCsrf(HttpMethod method, string path, string? cookie = null, object? json = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = json is null ? null : JsonContent.Create(json) };
        request.Headers.Add("X-CSRF", "1");
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return request;
    }

    public static async Task<HttpResponseMessage> PostSessionAsync(HttpClient client, string? cookie = null)
    {
        using var request = WithCsrf(HttpMethod.Post, "/api/customer-sessions", cookie, PricingTable);
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> GetUserAsync(HttpClient client, string? cookie = null)
    {
        using var request = WithCsrf(HttpMethod.Get, "/bff/user", cookie);
        return await client.SendAsync(request);
    }

    /// <summary>The customer a bearer client's Customer Sheet session was made for (the customerId Stripe answers with, which the service passes on for the sheet).</summary>
    public static async Task<string> CustomerOfSessionAsync(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/api/customer-sessions", new { components = new { customerSheet = new { enabled = true } } });
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("customerId").GetString()!;
    }

    /// <summary>The claims /bff/user answered with, by type.</summary>
    public static async Task<Dictionary<string, JsonElement>> ClaimsAsync(HttpResponseMessage user) =>
        (await user.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray()
            .GroupBy(c => c.GetProperty("type").GetString()!)
            .ToDictionary(g => g.Key, g => g.First().GetProperty("value"));
}
