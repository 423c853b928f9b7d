namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CustomersOptions>()
            .BindConfiguration(CustomersOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<CustomerMetrics>();
        builder.Services.AddSingleton<CustomerCache>();
        builder.Services.AddSingleton<UserLocks>();
        builder.Services.AddSingleton<CustomerCreations>();
        builder.Services.AddSingleton<CustomerResolver>();
        builder.Services.AddSingleton<ICustomerResolver>(services => services.GetRequiredService<CustomerResolver>());
        builder.Services.AddHostedService<LegacyIssuerReport>();
        builder.Services.AddHostedService<ForgottenCustomersSync>();
        builder.Services.AddSingleton<CustomerCreationSettler>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CustomerCreationSettler>());
        return builder;
    }
}
