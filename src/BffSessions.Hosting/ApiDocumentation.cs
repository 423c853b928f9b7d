using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerUI;

namespace BffSessions.Hosting;

/// <summary>The <c>Swagger</c> section.</summary>
public sealed class ApiDocumentationOptions
{
    public const string SectionName = "Swagger";

    /// <summary>Serve the OpenAPI document and Swagger UI: on in appsettings.Development.json, off by default elsewhere.</summary>
    public bool Enabled { get; set; }
}

public static class ApiDocumentation
{
    private const string BearerScheme = "Bearer";

    /// <summary>
    /// The OpenAPI document and Swagger UI, with the bearer scheme, where Swagger:Enabled is true: in Development
    /// (appsettings.Development.json) and where a deployment asks for it (a map of the API is no business of the public's). Features add what is theirs (a request
    /// example, a request interceptor) through <c>ConfigureSwaggerGen</c> and <c>Configure&lt;SwaggerUIOptions&gt;</c>.
    /// </summary>
    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
        // Decided while registering, from the bound section: where it is off, Swashbuckle is not even loaded.
        if (builder.Configuration.GetSection(ApiDocumentationOptions.SectionName).Get<ApiDocumentationOptions>() is not { Enabled: true })
        {
            return builder;
        }

        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "BffSessions",
                Version = "v1",
                Description = "Turns a signed-in user into a Stripe Customer Session client secret. " +
                    "Locally, get a token with `dotnet user-jwts create --project src/BffSessions.Api` and paste it under Authorize.",
            });
            options.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT whose `sub` claim is the user id (`dotnet user-jwts create` makes one locally).",
            });
            options.OperationFilter<ProblemDocumentation.ExamplesFilter>();
            options.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [],
            });
        });
        builder.Services.Configure<SwaggerUIOptions>(ui => ui.DocumentTitle = "BffSessions API");
        return builder;
    }

    public static WebApplication MapApiDocumentation(this WebApplication app)
    {
        if (app.Services.GetService<ISwaggerProvider>() is null)
        {
            return app;
        }

        app.UseSwagger();
        // Without arguments, Swagger UI takes its options from the container, where features added theirs.
        app.UseSwaggerUI();
        return app;
    }
}
