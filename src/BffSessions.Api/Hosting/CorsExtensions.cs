namespace BffSessions.Api.Hosting;

public static class CorsExtensions
{
    /// <summary>
    /// Cors:AllowedOrigins: the exact origins (scheme, host, port) whose pages may call the API with the session
    /// cookie. Empty by default: only pages served by this service itself (same origin) can.
    /// </summary>
    public static IHostApplicationBuilder AddCrossOriginPolicy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
            .WithOrigins(builder.Configuration.GetSection("Cors:AllowedOrigins").Get<string[]>() ?? [])
            .AllowCredentials()
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .WithHeaders("Content-Type", "Authorization", Identity.CsrfHeader.Name)));
        return builder;
    }
}
