using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace BffSessions.Hosting;

/// <summary>
/// One kind of problem the service answers with (RFC 9457): its status, its type (a URN a front-end branches on,
/// without parsing titles) and its title, declared once in the catalogue of the feature that raises it
/// (<see cref="CommonProblems"/>, PaymentProblems, …). Each occurrence adds a detail. docs/api.md's error table lists
/// every kind, and a test keeps the two the same.
/// </summary>
public sealed record ProblemKind(int Status, string Name, string Title)
{
    public const string Prefix = "urn:bffsessions:problem:";

    public string Type => Prefix + Name;

    /// <summary>This kind, with <paramref name="detail"/>: what a handler or a middleware writes with <see cref="Problems.WriteAsync"/>.</summary>
    public ProblemDetails Create(string? detail = null) => new() { Status = Status, Type = Type, Title = Title, Detail = detail };

    /// <summary>This kind, with <paramref name="detail"/>, as an endpoint's result.</summary>
    public ProblemHttpResult Result(string? detail = null) => TypedResults.Problem(Create(detail));

    /// <summary>An occurrence for the API's documentation (see <see cref="ProblemExamples"/>).</summary>
    /// <param name="detail">The detail, as the code that raises it writes it.</param>
    /// <param name="members">Members beyond the detail (errors, stripeRequestId), as the code writes them.</param>
    /// <param name="summary">What tells this occurrence from another of the same kind; the kind's name if there is only one.</param>
    public ProblemExample Example(string? detail = null, IReadOnlyDictionary<string, object?>? members = null, string? summary = null) =>
        new(this, detail, members, summary);

    /// <summary>A problem type without its URN prefix ("stripe-busy"): how metrics and logs name it.</summary>
    public static string ShortName(string type) => type.StartsWith(Prefix, StringComparison.Ordinal) ? type[Prefix.Length..] : type;
}

/// <summary>An occurrence of a <see cref="ProblemKind"/> as the API's documentation shows it.</summary>
public sealed record ProblemExample(ProblemKind Kind, string? Detail, IReadOnlyDictionary<string, object?>? Members, string? Summary)
{
    /// <summary>The example's name in the document: the kind's, and what tells it from another of the same kind.</summary>
    public string Name => Summary is null ? Kind.Name : $"{Kind.Name} ({Summary})";
}

/// <summary>The problems any endpoint can meet: the framework's own (routing, binding, limits) and authentication's.</summary>
public static class CommonProblems
{
    public static readonly ProblemKind InvalidRequest = new(StatusCodes.Status400BadRequest, "invalid-request", "The request is not valid");
    public static readonly ProblemKind InvalidBody = new(StatusCodes.Status400BadRequest, "invalid-body", "Invalid request body");
    public static readonly ProblemKind UnsupportedMediaType = new(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported media type");
    public static readonly ProblemKind BodyTooLarge = new(StatusCodes.Status413PayloadTooLarge, "body-too-large", "Request body too large");
    public static readonly ProblemKind Unauthorized = new(StatusCodes.Status401Unauthorized, "unauthorized", "Unauthorized");
    public static readonly ProblemKind Forbidden = new(StatusCodes.Status403Forbidden, "forbidden", "Forbidden");
    public static readonly ProblemKind NotFound = new(StatusCodes.Status404NotFound, "not-found", "Not Found");
    public static readonly ProblemKind MethodNotAllowed = new(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method Not Allowed");
    public static readonly ProblemKind RateLimited = new(StatusCodes.Status429TooManyRequests, "rate-limited", "Too many requests");
    public static readonly ProblemKind InternalError = new(StatusCodes.Status500InternalServerError, "internal-error", "An error occurred while processing your request.");

    /// <summary>
    /// Any other 4xx the framework answers (a 412 for an If-Match that does not match, say): the status and its own title
    /// are kept, so only the type is this one. Not an internal-error: the client, not the service, has something to fix.
    /// Only <see cref="CommonProblems.ForStatus"/> hands it out, with the status it was asked for; its own 400 is a
    /// placeholder, so code that answers a problem of its own names a kind of its own.
    /// </summary>
    public static readonly ProblemKind ClientError = new(StatusCodes.Status400BadRequest, "client-error", "Client error");

    /// <summary>The detail of a body that could not be read as the endpoint's request (its errors say where).</summary>
    public const string UnreadableBodyDetail = "The body could not be read as this endpoint's request.";

    public const string JsonOnlyDetail = "Send the body as JSON with Content-Type: application/json (UTF-8).";

    public const string Utf8OnlyDetail = "The body must be UTF-8: declare no charset, or charset=utf-8.";

    public const string RetryLaterDetail = "Too many requests were made in a short time. Retry after the time in the Retry-After header.";

    public static string TooLargeDetail(long maxBytes) => $"The request body may be at most {maxBytes} bytes.";

    /// <summary>A status that no code of ours answered with a kind: the framework's own, named by the status (a 5xx the catalogue does not name is an internal error).</summary>
    internal static ProblemKind ForStatus(int status) => status switch
    {
        StatusCodes.Status400BadRequest => InvalidBody,
        StatusCodes.Status401Unauthorized => Unauthorized,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => RateLimited,
        >= 400 and < 500 => ClientError,
        _ => InternalError,
    };
}
