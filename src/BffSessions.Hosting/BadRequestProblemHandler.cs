using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace BffSessions.Hosting;

/// <summary>
/// Answers a request the framework could not bind — malformed JSON, a wrong JSON type, an unknown member,
/// an empty body, a non-JSON content type — with a problem that names the JSON path, never a 500.
/// </summary>
public sealed partial class BadRequestProblemHandler(IProblemDetailsService problems, IOptions<RequestLimitsOptions> limits) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException badRequest)
        {
            return false;
        }

        ProblemDetails problem = badRequest.StatusCode switch
        {
            StatusCodes.Status413PayloadTooLarge => RequestLimits.TooLarge(RequestLimits.MaxBodyBytesFor(httpContext, limits.Value.MaxBodyBytes)),
            // A body with no Content-Type at all: routing lets it through, and binding refuses it.
            StatusCodes.Status415UnsupportedMediaType => CommonProblems.UnsupportedMediaType.Create(CommonProblems.JsonOnlyDetail),
            _ => InvalidBody(httpContext, badRequest),
        };
        problem.Status = badRequest.StatusCode;
        await problems.WriteAsync(httpContext, problem, exception);
        return true;
    }

    private static HttpValidationProblemDetails InvalidBody(HttpContext http, BadHttpRequestException exception)
    {
        var (path, message) = exception.InnerException switch
        {
            JsonException { InnerException: JsonException } json => (ToJsonPath(json.Path), "The body is not valid JSON."),
            JsonException json when json.Message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal) =>
                (ToJsonPath(json.Path), "This member is not part of the request; remove it."),
            JsonException json when DuplicateMember().IsMatch(json.Message) =>
                (ToJsonPath(json.Path), "This member appears more than once."),
            JsonException json => (ToJsonPath(json.Path), $"The value has the wrong JSON type: this member takes {WantedJsonType(http, ToJsonPath(json.Path))}."),
            _ when exception.Message.Contains("provided", StringComparison.Ordinal) => ("", "A JSON body is required."),
            _ => ("", "The request body could not be read."),
        };
        return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [path.Length == 0 ? "$" : path] = [message] })
        {
            Type = CommonProblems.InvalidBody.Type,
            Title = CommonProblems.InvalidBody.Title,
            Detail = CommonProblems.UnreadableBodyDetail,
        };
    }

    /// <summary>
    /// What the member at <paramref name="path"/> takes, in JSON's words ("true or false", "a whole number", ...),
    /// found by walking the endpoint's declared request type (System.Text.Json's message names the record whose
    /// constructor failed, not the member's type).
    /// </summary>
    private static string WantedJsonType(HttpContext http, string path)
    {
        var type = RequestLimits.EndpointOf(http)?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        foreach (var segment in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Split('[')[0];
            type = type?.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)?.PropertyType;
            if (segment.Contains('[', StringComparison.Ordinal))
            {
                type = type is null ? null : ElementType(type);
            }
        }

        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "another JSON type",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(int) => "a whole number (at most 2147483647)",
            _ when type == typeof(long) || type == typeof(short) || type == typeof(byte) => "a whole number",
            _ when type == typeof(decimal) || type == typeof(double) || type == typeof(float) => "a number",
            _ when type == typeof(string) => "a string",
            _ when ElementType(type) is not null => "an array",
            _ => "an object",
        };
    }

    private static Type? ElementType(Type type) =>
        type == typeof(string) ? null
        : type.IsArray ? type.GetElementType()
        : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GenericTypeArguments[0];

    /// <summary>System.Text.Json's "$.components['paymentElement'].enabled" becomes "components.paymentElement.enabled".</summary>
    private static string ToJsonPath(string? path) =>
        string.IsNullOrEmpty(path) ? "" : BracketedName().Replace(path, ".$1").TrimStart('$').TrimStart('.');

    [GeneratedRegex(@"\['([^']*)'\]")]
    private static partial Regex BracketedName();

    [GeneratedRegex(@"[Dd]uplicate")]
    private static partial Regex DuplicateMember();
}
