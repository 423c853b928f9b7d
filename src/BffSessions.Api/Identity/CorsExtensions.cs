namespace BffSessions.Api.Identity;

/// <summary>The <c>Cors</c> section.</summary>
public sealed class CrossOriginOptions
{
    public const string SectionName = "Cors";

    /// <summary>Exact origins (scheme, host, port) whose pages may call the API with the session cookie.</summary>
    public string[] AllowedOrigins { get; set; } = [];
}

public static class CorsExtensions
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
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<CrossOriginOptions>>((cors, origins) => cors.AddDefaultPolicy(policy => policy
                .WithOrigins(origins.Value.AllowedOrigins)
                .AllowCredentials()
                .WithMethods(HttpMethods.Get, HttpMethods.Post)
                .WithHeaders("Content-Type", "Authorization", CsrfHeader.Name)
                // The README tells pages to wait what Retry-After says; a page on another origin must be able to read it.
                .WithExposedHeaders("Retry-After")));
        return builder;
    }
}
