namespace BffSessions.Api.Customers;

public static class CustomersExtensions
{
    public static IHostApplicationBuilder AddCustomers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CustomersOptions>()
            .BindConfiguration(CustomersOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<CustomerCache>();
        builder.Services.AddSingleton<ICustomerResolver, CustomerResolver>();
        return builder;
    }
}
