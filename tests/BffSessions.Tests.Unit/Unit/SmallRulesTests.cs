using System.Net.Http.Headers;
using System.Text.Json;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests.Unit;

/// <summary>Small rules the HTTP tests reach only one example of at a time.</summary>
public sealed class SmallRulesTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/checkout")]
    [InlineData("/checkout?step=2&next=https://shop.example/x#summary")]
    [InlineData("/caf%C3%A9")]
    [InlineData("/a/b.c/~d")]
    public void A_plain_local_path_is_a_return_url(string url) => Assert.True(ReturnUrls.IsPlainLocalPath(url));

    [Theory]
    [InlineData("")]
    [InlineData("checkout")]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/\\evil.example/")]
    [InlineData("/%2F%2Fevil.example")]
    [InlineData("/%2fevil")]
    [InlineData("/%5Cevil.example")]
    [InlineData("/%09/evil.example")]
    [InlineData("/%0d%0aSet-Cookie:x=1")]
    [InlineData("/%252f%252fevil")]
    [InlineData("/%")]
    [InlineData("/%zz")]
    [InlineData("/café")]
    [InlineData("/a\tb")]
    [InlineData("/a b")]
    [InlineData("/.//evil")]
    [InlineData("/a/../b")]
    [InlineData("/a/.")]
    [InlineData("javascript:alert(1)")]
    public void Anything_else_is_not(string url) => Assert.False(ReturnUrls.IsPlainLocalPath(url));

    /// <summary>The examples the browser kit's copy of the rule is tested on too (clients/web/test/create.test.js).</summary>
    public static TheoryData<string, bool> SharedReturnUrlExamples()
    {
        using var examples = JsonDocument.Parse(File.ReadAllText(Repository.PathOf("clients", "web", "test", "return-urls.json")));
        var data = new TheoryData<string, bool>();
        foreach (var (list, accepted) in new[] { ("accepted", true), ("refused", false) })
        {
            foreach (var url in examples.RootElement.GetProperty(list).EnumerateArray())
            {
                data.Add(url.GetString()!, accepted);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SharedReturnUrlExamples))]
    public void The_browser_kit_and_the_service_take_the_same_return_urls(string url, bool accepted) =>
        Assert.Equal(accepted, ReturnUrls.IsPlainLocalPath(url));

    [Fact]
    public void A_return_url_is_at_most_2048_characters() =>
        Assert.Equal((true, false), (ReturnUrls.IsPlainLocalPath("/" + new string('a', 2047)), ReturnUrls.IsPlainLocalPath("/" + new string('a', 2048))));

    [Theory]
    [InlineData(null, null, 1)]
    [InlineData(7, null, 7)]
    [InlineData(0, null, 1)]
    [InlineData(99_999_999, null, 60)]
    [InlineData(null, 30, 30)]
    [InlineData(null, -30, 1)]
    [InlineData(null, 86_400, 60)]
    public void Stripes_Retry_After_is_taken_in_seconds_or_as_a_date_within_a_second_and_a_minute(int? seconds, int? dateInSeconds, int expected)
    {
        var now = new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
        var hint = seconds is { } s ? new RetryConditionHeaderValue(TimeSpan.FromSeconds(s))
            : dateInSeconds is { } d ? new RetryConditionHeaderValue(now.AddSeconds(d))
            : null;

        Assert.Equal(TimeSpan.FromSeconds(expected), StripeProblemHandler.RetryAfter(hint, now));
    }

    [Fact]
    public void A_header_value_in_a_log_line_has_no_control_characters_and_a_bounded_length()
    {
        var forged = "https://evil.example\r\n[Fatal] forged line\u001b[31m" + new string('x', 5_000);

        var logged = LogValues.Text(forged);

        Assert.Equal(LogValues.MaxLength + 1, logged.Length);
        Assert.EndsWith("…", logged, StringComparison.Ordinal);
        Assert.DoesNotContain(logged, char.IsControl);
        Assert.StartsWith("https://evil.example??[Fatal] forged line?[31m", logged, StringComparison.Ordinal);
        Assert.Equal("https://shop.example", LogValues.Text("https://shop.example"));
        Assert.Equal("", LogValues.Text(null));
    }
}
