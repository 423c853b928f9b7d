using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace BffSessions.Hosting;

/// <summary>The <c>RequestLimits</c> section.</summary>
public sealed class RequestLimitsOptions
{
    public const string SectionName = "RequestLimits";

    /// <summary>The largest request body accepted; a customer session request is a few hundred bytes.</summary>
    [Range(1024, 10 * 1024 * 1024)]
    public long MaxBodyBytes { get; set; } = 16 * 1024;
}

/// <summary>Lets an endpoint accept bodies larger than <see cref="RequestLimitsOptions.MaxBodyBytes"/>, up to its own cap.</summary>
public sealed record LargerBodyAllowed(long MaxBytes);

public static class RequestLimits
{
    public static IHostApplicationBuilder AddRequestLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RequestLimitsOptions>()
            .BindConfiguration(RequestLimitsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<RequestLimitsOptions>>((kestrel, limits) =>
        {
            // Reading past the limit throws a 413 BadHttpRequestException, answered as a problem.
            kestrel.Limits.MaxRequestBodySize = limits.Value.MaxBodyBytes;
            // Nothing to gain from telling scanners which server this is.
            kestrel.AddServerHeader = false;
        });
        return builder;
    }

    /// <summary>
    /// A declared body over the limit is refused before anything reads it; bodies without a length are cut by the
    /// server's own limit while being read. Every response says nosniff; outside Development, HTTPS is enforced.
    /// </summary>
    public static WebApplication UseRequestLimits(this WebApplication app)
    {
        app.UseMiddleware<BodyLimitMiddleware>();
        if (!app.Environment.IsDevelopment())
        {
            // Behind a TLS-terminating proxy, set ASPNETCORE_FORWARDEDHEADERS_ENABLED=true so requests it forwarded
            // over HTTPS count as HTTPS here.
            app.UseHsts();
            app.UseHttpsRedirection();
        }

        return app;
    }

    /// <summary>The body cap for this request: the endpoint's own (<see cref="LargerBodyAllowed"/>), else the service's.</summary>
    /// <remarks>WebApplication routes before any middleware of ours, so the endpoint is known by the time this is asked.</remarks>
    public static long MaxBodyBytesFor(HttpContext http, long serviceMax) =>
        EndpointOf(http)?.Metadata.GetMetadata<LargerBodyAllowed>()?.MaxBytes ?? serviceMax;

    /// <summary>
    /// The request's endpoint, also inside an exception handler, which runs with the endpoint cleared: its feature
    /// keeps the one that failed.
    /// </summary>
    internal static Endpoint? EndpointOf(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Endpoint ?? http.GetEndpoint();
    public static ProblemDetails TooLarge(long maxBytes) => CommonProblems.BodyTooLarge.Create(CommonProblems.TooLargeDetail(maxBytes));


    /// <summary>
    /// JSON is UTF-8 (RFC 8259), and so are the forms this service reads: a body that declares another charset
    /// ("charset=utf-7", "charset=bogus") is refused here, for every endpoint, as a 415, before any reader tries it.
    /// Only the spellings ASP.NET Core's JSON reader knows pass: it fails on "utf8" and on a quoted "\"utf-8\"".
    /// </summary>
    private static bool HasForeignCharset(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
        && contentType.Parameters.Any(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase))
        && !Utf8Names.Contains(contentType.Charset.ToString()); // an empty charset= is not one of them either

    private static readonly HashSet<string> Utf8Names = new(StringComparer.OrdinalIgnoreCase) { "utf-8", "us-ascii" };

    private sealed class BodyLimitMiddleware(RequestDelegate next, IOptions<RequestLimitsOptions> options, IProblemDetailsService problems)
    {
        private readonly long _maxBody = options.Value.MaxBodyBytes;

        public async Task InvokeAsync(HttpContext http)
        {
            http.Response.OnStarting(static state =>
            {
                ((HttpResponse)state).Headers.XContentTypeOptions = "nosniff";
                return Task.CompletedTask;
            }, http.Response);

            var maxBody = MaxBodyBytesFor(http, _maxBody);
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = maxBody;
            }

            if (http.Request.ContentLength > maxBody)
            {
                await problems.WriteAsync(http, TooLarge(maxBody));
                return;
            }

            if (HasForeignCharset(http.Request))
            {
                await problems.WriteAsync(http, CommonProblems.UnsupportedMediaType.Create(CommonProblems.Utf8OnlyDetail));
                return;
            }

            await next(http);
        }
    }
}
