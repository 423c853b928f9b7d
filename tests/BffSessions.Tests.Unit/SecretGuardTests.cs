using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

/// <summary>The guard that every test runs over the logs must itself catch what it claims to catch.</summary>
public sealed class SecretGuardTests
{
    [Theory]
    [InlineData("secret cuss_secret_QXhWeUEtZoDV8FHnNbPiBHmAkXKnqYLGMGq7LLf8ODSQ8gL leaked")]
    [InlineData("key sk_test_51Habc0123456789")]
    [InlineData("key sk_live_51Habc0123456789")]
    [InlineData("key rk_test_51Habc0123456789")]
    [InlineData("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345")]
    [InlineData("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl")]
    public void The_guard_finds_secrets(string line) => Assert.Single(Secrets.FoundIn([line]));

    [Theory]
    [InlineData("HTTP POST /api/customer-sessions responded 200 in 3.2 ms")]
    [InlineData("Stripe rejected the API key: check Stripe:SecretKey (req_123)")]
    [InlineData("customer cus_QXg1o8vcGmoR32 for user user-1")]
    [InlineData("AuthenticationScheme: Bearer was challenged.")]
    public void The_guard_passes_ordinary_lines(string line) => Assert.Empty(Secrets.FoundIn([line]));
}
