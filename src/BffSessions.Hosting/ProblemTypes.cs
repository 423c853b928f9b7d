namespace BffSessions.Hosting;

/// <summary>
/// The "type" of every problem this service answers with (RFC 9457): one URN per condition, so a front-end can
/// branch on it without parsing titles. These are the ones any endpoint can meet; each feature names its own
/// beside its code (<c>Prefix</c> + a name), and the README's error table lists them all.
/// </summary>
public static class ProblemTypes
{
    public const string Prefix = "urn:bffsessions:problem:";

    public const string InvalidRequest = Prefix + "invalid-request";
    public const string InvalidBody = Prefix + "invalid-body";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string BodyTooLarge = Prefix + "body-too-large";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string Forbidden = Prefix + "forbidden";
    public const string NotFound = Prefix + "not-found";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string RateLimited = Prefix + "rate-limited";
    public const string InternalError = Prefix + "internal-error";

    /// <summary>A problem type without its URN prefix ("stripe-busy"): how metrics and logs name it.</summary>
    public static string ShortName(string type) =>
        type.StartsWith(Prefix, StringComparison.Ordinal) ? type[Prefix.Length..] : type;

    /// <summary>A status that no code of ours answered with a type: the framework's own, named by the status.</summary>
    internal static string ForStatus(int status) => status switch
    {
        StatusCodes.Status400BadRequest => InvalidBody,
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => RateLimited,
        _ => InternalError,
    };
}
