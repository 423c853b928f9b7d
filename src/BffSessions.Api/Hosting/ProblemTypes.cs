namespace BffSessions.Api.Hosting;

/// <summary>
/// The "type" of every problem this service answers with (RFC 9457): one URN per condition, so a front-end can
/// branch on it without parsing titles. The README's error table lists them with what to do.
/// </summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:bffsessions:problem:";

    public const string InvalidRequest = Prefix + "invalid-request";
    public const string InvalidBody = Prefix + "invalid-body";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string BodyTooLarge = Prefix + "body-too-large";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string CsrfHeaderMissing = Prefix + "csrf-header-missing";
    public const string Forbidden = Prefix + "forbidden";
    public const string RateLimited = Prefix + "rate-limited";
    public const string StripeError = Prefix + "stripe-error";
    public const string StripeUnreachable = Prefix + "stripe-unreachable";
    public const string StripeCredentialsRejected = Prefix + "stripe-credentials-rejected";
    public const string StripeRateLimited = Prefix + "stripe-rate-limited";
    public const string StripeBusy = Prefix + "stripe-busy";
    public const string StripeTimeout = Prefix + "stripe-timeout";
    public const string DatabaseUnavailable = Prefix + "database-unavailable";
}
