using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// The browser half of the feature: clients/web/customer-sessions.js, embedded in this assembly when it is built, served
/// at <c>GET /bff/customer-sessions.js</c> so a page without a bundler can
/// <c>import { createCustomerSessions } from '/bff/customer-sessions.js'</c>. One file in the repository, none in
/// wwwroot to drift from it, and no Node.js needed to build or run the service. Served whether or not the demo is on:
/// any page of the site may use it.
/// </summary>
public static class BrowserKit
{
    public const string Path = "/bff/customer-sessions.js";

    /// <summary>The EmbeddedResource's LogicalName in BffSessions.Api.csproj.</summary>
    public const string ResourceName = "customer-sessions.js";

    /// <summary>Browsers refuse a module script under any type but JavaScript's (and nosniff, on every answer, stops them guessing).</summary>
    public const string ContentType = "text/javascript; charset=utf-8";

    public static IEndpointRouteBuilder MapBrowserKit(this IEndpointRouteBuilder app)
    {
        var module = Load();
        // Anonymous: the script is public, the same for everyone, and carries no secret. A page on an origin in
        // Cors:AllowedOrigins imports it in CORS mode; the default policy (UseCrossOrigin) answers that as for any
        // endpoint, with Vary: Origin, which matters here: this answer is the one a cache may keep.
        app.MapGet(Path, (HttpContext http) => Serve(http, module))
            .AllowAnonymous()
            .WithName("GetBrowserKit")
            .WithTags("Browser kit")
            .WithSummary("The browser kit: an ES module that gets, retries and renews customer-session client secrets")
            .WithDescription("clients/web/customer-sessions.js as the service was built with it. Revalidate with If-None-Match: " +
                "a page must not run last deployment's copy against this one.")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript")
            .Produces(StatusCodes.Status304NotModified);
        // HEAD as well (RFC 9110 asks it of every GET): link checkers, CDN probes. Left out of the API document, where it
        // would repeat the GET under the same operation id.
        app.MapMethods(Path, [HttpMethods.Head], (HttpContext http) => Serve(http, module))
            .AllowAnonymous()
            .ExcludeFromDescription();
        return app;
    }

    private static FileContentHttpResult Serve(HttpContext http, Module module)
    {
        // no-cache, not max-age: a browser may keep the file but asks each time (a 304 when it is unchanged), so a
        // deployment with a new kit reaches every open tab's next import at once.
        http.Response.Headers.CacheControl = "no-cache";
        // The file result compares If-None-Match with the tag and answers 304 without the body.
        return TypedResults.Bytes(module.Contents, ContentType, entityTag: module.ETag);
    }

    private static Module Load()
    {
        using var stream = typeof(BrowserKit).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The browser kit ({ResourceName}) is not embedded: BffSessions.Api.csproj must embed clients/web/customer-sessions.js.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var contents = copy.ToArray();
        // A strong tag from the bytes: the same file gives the same tag on every instance and after every restart.
        var tag = new EntityTagHeaderValue($"\"{WebEncoders.Base64UrlEncode(SHA256.HashData(contents))}\"");
        return new Module(contents, tag);
    }

    private sealed record Module(byte[] Contents, EntityTagHeaderValue ETag);
}
