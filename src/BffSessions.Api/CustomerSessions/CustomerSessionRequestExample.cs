using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace BffSessions.Api.CustomerSessions;

/// <summary>Swagger UI's "Try it out" starts from a request Stripe accepts.</summary>
internal sealed class CustomerSessionRequestExample : ISchemaFilter
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
