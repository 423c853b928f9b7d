using System.Net;
using System.Text.Json;

namespace BffSessions.Tests.Infrastructure;

public static class HttpAssert
{
    /// <summary>
    /// Asserts an RFC 9457 problem with the status, one of the service's urn:bffsessions:problem types, a trace id, and
    /// no secret in the body; returns the body. Every test that meets a problem checks the contract this way.
    /// </summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(Secrets.FoundIn([text]));
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.StartsWith(BffSessions.Hosting.ProblemKind.Prefix, problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
        return problem;
    }

    /// <summary>The validation errors of a 400 problem of the given type, one message per JSON path.</summary>
    public static async Task<Dictionary<string, string>> ErrorsAsync(HttpResponseMessage response, string type)
    {
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        return problem.GetProperty("errors").EnumerateObject()
            .ToDictionary(e => e.Name, e => Assert.Single(e.Value.EnumerateArray()).GetString()!);
    }
}
