namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CustomersOptions>()
            .BindConfiguration(CustomersOptions.SectionName)
            .Configure<IConfiguration>((customers, configuration) => customers.LegacyIssuer ??= TrustedIssuerBefore(configuration))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<CustomerCache>();
        builder.Services.AddSingleton<CustomerResolver>();
        builder.Services.AddSingleton<ICustomerResolver>(services => services.GetRequiredService<CustomerResolver>());
        builder.Services.AddHostedService<LegacyIssuerAssignment>();
        builder.Services.AddHostedService<ForgottenCustomersSync>();
        return builder;
    }

    /// <summary>The issuer a deployment trusted before users were keyed by issuer: what its settings name first.</summary>
    private static string? TrustedIssuerBefore(IConfiguration configuration) =>
        new[]
        {
            configuration.GetSection("Authentication:Schemes:Bearer").GetValue<string>("ValidIssuer"),
            configuration.GetSection("Authentication:Schemes:Bearer").GetValue<string>("Authority"),
            configuration.GetSection("Authentication:Schemes:OpenIdConnect").GetValue<string>("Authority"),
        }.FirstOrDefault(issuer => !string.IsNullOrWhiteSpace(issuer));
}
