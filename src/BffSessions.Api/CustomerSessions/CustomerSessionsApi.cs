using System.Security.Claims;
using BffSessions.Api.Customers;
using BffSessions.Api.Data;
using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using FluentValidation;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.CustomerSessions;

public static class CustomerSessionsApi
{
    /// <summary>The endpoint's name, and its operationId in the OpenAPI document.</summary>
    public const string OperationName = "CreateCustomerSession";

    public static IHostApplicationBuilder AddCustomerSessions(this IHostApplicationBuilder builder)
    {
        // Validators are stateless: one instance each, resolved once when the endpoint is built.
        builder.Services.AddValidatorsFromAssemblyContaining<CustomerSessionRequestValidator>(ServiceLifetime.Singleton, includeInternalTypes: false);
        builder.Services.AddSingleton<CustomerSessionIssuer>();
        builder.Services.AddSingleton<SessionMetrics>();
        builder.Services.ConfigureSwaggerGen(swagger => swagger.SchemaFilter<CustomerSessionRequestExample>());

        // Each user's token bucket: one user's script cannot spend everyone's Stripe budget. Instances that share a
        // PostgreSQL database share each user's bucket: N instances must not mean N times the limit.
        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.Configure<Microsoft.AspNetCore.RateLimiting.RateLimiterOptions>(limiter =>
            limiter.AddPolicy<string, PerUserRateLimit>(PerUserRateLimit.PolicyName));
        if (DataExtensions.ReadProvider(builder.Configuration) == DatabaseProvider.Postgres)
        {
            builder.Services.AddSingleton<SharedUserBuckets>();
            builder.Services.AddHostedService(services => services.GetRequiredService<SharedUserBuckets>());
        }

        // Users from before the map recorded issuers belong to the issuer this deployment trusts (unless said otherwise):
        // Identity knows which that is, Customers adopts them, and this feature is where the two meet.
        builder.Services.AddOptions<CustomersOptions>()
            .Configure<IOptionsMonitor<JwtBearerOptions>, IOptions<OpenIdConnectSettings>>((customers, bearer, openIdConnect) =>
            {
                if (string.IsNullOrEmpty(customers.LegacyIssuer))
                {
                    customers.LegacyIssuer = IdentityExtensions.TrustedIssuers(bearer.Get(JwtBearerDefaults.AuthenticationScheme), openIdConnect.Value).FirstOrDefault();
                }
            });
        return builder;
    }

    public static RouteGroupBuilder MapCustomerSessions(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api")
            .WithTags("Customer sessions")
            .RequireAuthorization(IdentityExtensions.SignedInUserPolicy)
            .RequireCsrfHeader()
            .WithValidation()
            // A client secret must never sit in a browser, proxy or CDN cache; errors are not worth caching either.
            .AddEndpointFilter(async (invocation, next) =>
            {
                invocation.HttpContext.Response.Headers.CacheControl = "no-store";
                return await next(invocation);
            });

        if (app.ServiceProvider.GetRequiredService<IOptions<RateLimitingOptions>>().Value.PerUserEnabled)
        {
            group.RequireRateLimiting(PerUserRateLimit.PolicyName);
        }

        group.MapPost("/customer-sessions", CreateAsync)
            .WithName(OperationName)
            .WithSummary("Create a Stripe Customer Session for the signed-in user")
            .WithDescription(
                "Finds or creates the caller's Stripe customer and returns a single-use client secret for the requested " +
                "components. Mint one per render: the secret expires after 30 minutes and must not be cached or stored.")
            .Accepts<CustomerSessionRequest>("application/json")
            .ProducesProblems(
                CommonProblems.InvalidRequest.Example(members: Errors("components", CustomerSessionRequestValidator.NothingEnabled)),
                CommonProblems.InvalidBody.Example(CommonProblems.UnreadableBodyDetail,
                    Errors("components.pricingTable.enabled", "The value has the wrong JSON type: this member takes true or false.")),
                CommonProblems.Unauthorized.Example(IdentityProblems.InvalidTokenDetail),
                IdentityProblems.CsrfHeaderMissing.Example(IdentityProblems.CsrfHeaderMissingDetail),
                CommonProblems.Forbidden.Example(IdentityProblems.NoUsableUserDetail),
                CommonProblems.BodyTooLarge.Example(CommonProblems.TooLargeDetail(new RequestLimitsOptions().MaxBodyBytes)),
                CommonProblems.UnsupportedMediaType.Example(CommonProblems.JsonOnlyDetail),
                CommonProblems.RateLimited.Example(CommonProblems.RetryLaterDetail),
                PaymentProblems.StripeError.Example(PaymentProblems.StripeErrorDetail, StripeRequestId),
                PaymentProblems.StripeUnreachable.Example(PaymentProblems.UnreachableDetail),
                PaymentProblems.StripeCredentialsRejected.Example(PaymentProblems.CredentialsRejectedDetail),
                PaymentProblems.StripeBusy.Example(PaymentProblems.BudgetDetail, summary: "budget"),
                PaymentProblems.StripeBusy.Example(PaymentProblems.InFlightDetail, summary: "in flight"),
                PaymentProblems.StripeRateLimited.Example(PaymentProblems.RateLimitedDetail),
                DataProblems.DatabaseUnavailable.Example(DataProblems.UnavailableDetail),
                PaymentProblems.StripeTimeout.Example(PaymentProblems.TimeoutDetail));
        app.MapBrowserKit(); // GET /bff/customer-sessions.js: the module that pages call this endpoint with
        return group;
    }

    private static readonly Dictionary<string, object?> StripeRequestId = new() { [PaymentProblems.StripeRequestIdMember] = "req_Qx1uVvA7ZfXn4T" };

    private static Dictionary<string, object?> Errors(string path, string message) => new() { ["errors"] = new Dictionary<string, string[]> { [path] = [message] } };

    public static async Task<Ok<CustomerSessionResponse>> CreateAsync(
        CustomerSessionRequest request,
        ClaimsPrincipal principal,
        [AsParameters] CustomerSessionServices services,
        CancellationToken cancellationToken)
    {
        // The validation filter has run: components is present and at least one is enabled.
        var components = request.Components!;
        var user = services.Users.Get(principal);
        var issued = await services.Issuer.IssueAsync(new CustomerOwner(user.Issuer, user.Id, user.Email, user.Name), components, cancellationToken);
        return TypedResults.Ok(new CustomerSessionResponse(
            issued.Session.ClientSecret,
            issued.Session.ExpiresAt,
            components.NeedsCustomerId ? issued.Customer.Id : null));
    }
}

/// <summary>What the handler needs, bundled so its signature stays readable.</summary>
public sealed record CustomerSessionServices(CurrentUserAccessor Users, CustomerSessionIssuer Issuer);
