using System.Text.Json;
using FluentValidation;
using FluentValidation.Results;

namespace BffSessions.Hosting;

public static class ValidationFilter
{
    /// <summary>
    /// Validates every handler argument whose type has a FluentValidation validator, before the handler runs.
    /// The handler is inspected once, when the endpoint is built; endpoints without such an argument are not
    /// wrapped. Errors are keyed by JSON path (components.paymentElement.enabled), one message each.
    /// </summary>
    public static TBuilder WithValidation<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilterFactory((context, next) =>
        {
            var validated = context.MethodInfo.GetParameters()
                .Select((parameter, index) => (index, validator: context.ApplicationServices.GetService(
                    typeof(IValidator<>).MakeGenericType(parameter.ParameterType)) as IValidator))
                .Where(p => p.validator is not null)
                .ToArray();
            if (validated.Length == 0)
            {
                return next;
            }

            return async invocation =>
            {
                foreach (var (index, validator) in validated)
                {
                    if (invocation.Arguments[index] is not { } argument)
                    {
                        continue;
                    }

                    var result = await validator!.ValidateAsync(new ValidationContext<object>(argument), invocation.HttpContext.RequestAborted);
                    if (!result.IsValid)
                    {
                        return TypedResults.ValidationProblem(ByJsonPath(result.Errors), title: CommonProblems.InvalidRequest.Title, type: CommonProblems.InvalidRequest.Type);
                    }
                }

                return await next(invocation);
            };
        });
        builder.WithMetadata(new ProducesResponseTypeMetadata(
            StatusCodes.Status400BadRequest, typeof(HttpValidationProblemDetails), ["application/problem+json"]));
        return builder;
    }

    /// <summary>"Components.PaymentElement.Features.PaymentMethodRedisplayLimit" → "components.paymentElement.features.paymentMethodRedisplayLimit".</summary>
    private static Dictionary<string, string[]> ByJsonPath(IEnumerable<ValidationFailure> failures) =>
        failures
            .GroupBy(f => string.Join('.', f.PropertyName.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName)))
            .ToDictionary(g => g.Key.Length == 0 ? "$" : g.Key, g => new[] { g.First().ErrorMessage });
}
