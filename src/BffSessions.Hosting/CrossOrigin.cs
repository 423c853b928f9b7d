using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace BffSessions.Hosting;

/// <summary>The <c>Cors</c> section.</summary>
public sealed class CrossOriginOptions
{
    public const string SectionName = "Cors";

    /// <summary>Exact origins (scheme, host, port) whose pages may call the API with the session cookie.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>The request headers a page on an allowed origin may send, beyond those every API call may carry; features add theirs.</summary>
public sealed class CrossOriginHeaders
{
    public List<string> Allowed { get; } = ["Content-Type", "Authorization"];
}

public static class CrossOrigin
{
    /// <summary>
    /// Cors:AllowedOrigins: the exact origins whose pages may call the API with the session cookie. Empty by
    /// default: only pages served by this service itself (same origin) can.
    /// </summary>
    public static IHostApplicationBuilder AddCrossOriginPolicy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CrossOriginOptions>().BindConfiguration(CrossOriginOptions.SectionName)
            .Validate(o => o.AllowedOrigins.All(origin => Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.AbsolutePath == "/" && origin.TrimEnd('/') == origin),
                "Cors:AllowedOrigins must hold origins only, such as https://shop.example.com (scheme, host and port, no path or trailing slash).")
            .ValidateOnStart();
        builder.Services.AddCors();
        builder.Services.AddOptions<CorsOptions>()
            .Configure<IOptions<CrossOriginOptions>, IOptions<CrossOriginHeaders>>((cors, origins, headers) => cors.AddDefaultPolicy(policy => policy
                .WithOrigins(origins.Value.AllowedOrigins)
                .AllowCredentials()
                .WithMethods(HttpMethods.Get, HttpMethods.Post)
                .WithHeaders([.. headers.Value.Allowed])
                // A page must wait what Retry-After says, and the browser kit times renewals by Date (the service's
                // clock, not the browser's): a page on another origin must be able to read both.
                .WithExposedHeaders("Retry-After", "Date")));
        return builder;
    }

    /// <summary>UseCors, and <c>Vary: Origin</c> on every answer while Cors:AllowedOrigins is set.</summary>
    public static WebApplication UseCrossOrigin(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<CrossOriginOptions>>().Value.AllowedOrigins.Length > 0)
        {
            // Whether an answer carries Access-Control-Allow-Origin then depends on Origin, and a cache that ignored it
            // (the browser's, a CDN's) would hand a same-origin copy of a cacheable answer, the browser kit's, to an
            // allowed page's import, which then fails. UseCors says Vary: Origin only to an allowed origin, and only when
            // there are two or more. Response callbacks run last-registered first: this one, registered before UseCors's,
            // sees what it wrote and adds Origin only when it is missing.
            app.Use((context, next) =>
            {
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    if (!headers.GetCommaSeparatedValues(HeaderNames.Vary).Contains(HeaderNames.Origin, StringComparer.OrdinalIgnoreCase))
                    {
                        headers.Append(HeaderNames.Vary, HeaderNames.Origin);
                    }

                    return Task.CompletedTask;
                });
                return next(context);
            });
        }

        app.UseCors();
        return app;
    }

    /// <summary>Lets pages on the allowed origins send <paramref name="header"/> (a preflight names it).</summary>
    public static IHostApplicationBuilder AllowCrossOriginHeader(this IHostApplicationBuilder builder, string header)
    {
        builder.Services.Configure<CrossOriginHeaders>(headers => headers.Allowed.Add(header));
        return builder;
    }
}
