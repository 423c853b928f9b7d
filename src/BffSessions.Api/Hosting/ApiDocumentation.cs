using System.Text.Json.Nodes;
using BffSessions.Api.CustomerSessions;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace BffSessions.Api.Hosting;

public static class ApiDocumentation
{
    private const string BearerScheme = "Bearer";

    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
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
            options.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [],
            });
            options.SchemaFilter<RequestExampleFilter>();
        });
        return builder;
    }

    public static WebApplication MapApiDocumentation(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(ui =>
        {
            ui.DocumentTitle = "BffSessions API";
            // Someone signed in through /bff/login can try the API without a token: Swagger UI's fetch sends the
            // session cookie (same origin), and this adds the CSRF header cookie sessions need.
            ui.Interceptors.RequestInterceptorFunction = "(request) => { request.headers['X-CSRF'] = '1'; return request; }";
        });
        return app;
    }

    /// <summary>Swagger UI's "Try it out" starts from a request Stripe accepts.</summary>
    private sealed class RequestExampleFilter : ISchemaFilter
    {
        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (context.Type == typeof(CustomerSessionRequest) && schema is OpenApiSchema concrete)
            {
                concrete.Example = JsonNode.Parse("""
                    {
                      "components": {
                        "paymentElement": {
                          "enabled": true,
                          "features": {
                            "paymentMethodRedisplay": "enabled",
                            "paymentMethodRedisplayLimit": 3,
                            "paymentMethodSave": "enabled",
                            "paymentMethodRemove": "enabled"
                          }
                        },
                        "pricingTable": { "enabled": true }
                      }
                    }
                    """);
            }
        }
    }
}
