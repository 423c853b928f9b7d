using System.Diagnostics.Metrics;
using BffSessions.Api.Customers;
using BffSessions.Api.CustomerSessions;
using BffSessions.Api.Payments;
using BffSessions.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace BffSessions.Tests.Unit;

/// <summary>The issuer's retry rule: a customer deleted in Stripe is replaced once and the session tried once more.</summary>
public sealed class CustomerSessionIssuerTests
{
    private static readonly CustomerOwner Ada = new("https://issuer.example", "ada", "ada@example.com", "Ada");
    private static readonly SessionComponents PricingTable = new(null, new PlainComponent(true), null, null, null);

    private readonly IMeterFactory _meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    private SessionMetrics Metrics => new(_meters);

    [Fact]
    public async Task Each_enabled_component_of_an_issued_session_is_counted_and_a_failed_one_not_at_all()
    {
        using var sessions = new MetricCollector<long>(_meters, Telemetry.Name, "bffsessions.sessions.created");
        var both = new SessionComponents(new PaymentElementComponent(true, null), new PlainComponent(true), new PlainComponent(false), null, null);
        var customers = new FakeCustomers(new CustomerRef("cus_old", CustomerKind.Customer), new CustomerRef("cus_new", CustomerKind.Customer));

        await Issuer(customers, new FakeStripe()).IssueAsync(Ada, both, CancellationToken.None);
        await Assert.ThrowsAsync<StripeCustomerMissingException>(() =>
            Issuer(customers, new FakeStripe { Missing = { "cus_old", "cus_new" } }).IssueAsync(Ada, both, CancellationToken.None));

        Assert.Equal(["payment_element", "pricing_table"], sessions.GetMeasurementSnapshot().Select(m => (string)m.Tags["component"]!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_known_customer_costs_one_session_call_and_no_replacement()
    {
        var customers = new FakeCustomers(new CustomerRef("cus_old", CustomerKind.Customer));
        var stripe = new FakeStripe();

        var issued = await Issuer(customers, stripe).IssueAsync(Ada, PricingTable, CancellationToken.None);

        Assert.Equal("cus_old", issued.Customer.Id);
        Assert.Equal(["cus_old"], stripe.SessionsFor);
        Assert.Empty(customers.Replaced);
    }

    [Fact]
    public async Task A_deleted_customer_is_replaced_once_and_the_session_is_created_for_the_replacement()
    {
        var customers = new FakeCustomers(new CustomerRef("cus_old", CustomerKind.Customer), new CustomerRef("cus_new", CustomerKind.Customer));
        var stripe = new FakeStripe { Missing = { "cus_old" } };

        var issued = await Issuer(customers, stripe).IssueAsync(Ada, PricingTable, CancellationToken.None);

        Assert.Equal("cus_new", issued.Customer.Id);
        Assert.Equal(["cus_old", "cus_new"], stripe.SessionsFor);
        Assert.Equal(["cus_old"], customers.Replaced);
        Assert.Equal("cus_secret_for_cus_new", issued.Session.ClientSecret);
    }

    [Fact]
    public async Task A_replacement_that_is_missing_too_is_not_replaced_again()
    {
        var customers = new FakeCustomers(new CustomerRef("cus_old", CustomerKind.Customer), new CustomerRef("cus_new", CustomerKind.Customer));
        var stripe = new FakeStripe { Missing = { "cus_old", "cus_new" } };

        var missing = await Assert.ThrowsAsync<StripeCustomerMissingException>(
            () => Issuer(customers, stripe).IssueAsync(Ada, PricingTable, CancellationToken.None));

        Assert.Equal("cus_new", missing.CustomerId);
        Assert.Equal(["cus_old", "cus_new"], stripe.SessionsFor);
        Assert.Equal(["cus_old"], customers.Replaced);
    }

    [Fact]
    public async Task Other_Stripe_failures_are_not_mistaken_for_a_deleted_customer()
    {
        var customers = new FakeCustomers(new CustomerRef("cus_old", CustomerKind.Customer));
        var stripe = new FakeStripe { Failure = new StripeBusyException() };

        await Assert.ThrowsAsync<StripeBusyException>(() => Issuer(customers, stripe).IssueAsync(Ada, PricingTable, CancellationToken.None));

        Assert.Empty(customers.Replaced);
        Assert.Single(stripe.SessionsFor);
    }

    private CustomerSessionIssuer Issuer(ICustomerResolver customers, IStripeGateway stripe) =>
        new(customers, stripe, Metrics, Microsoft.Extensions.Options.Options.Create(new StripeOptions()), TimeProvider.System);

    /// <summary>Hands out <paramref name="resolved"/> first, then each replacement in turn.</summary>
    private sealed class FakeCustomers(CustomerRef resolved, params CustomerRef[] replacements) : ICustomerResolver
    {
        private readonly Queue<CustomerRef> _replacements = new(replacements);

        public List<string> Replaced { get; } = [];

        public ValueTask<CustomerRef> ResolveAsync(CustomerOwner owner, CancellationToken cancellationToken) => ValueTask.FromResult(resolved);

        public Task<CustomerRef> ReplaceMissingAsync(CustomerOwner owner, string missingCustomerId, CancellationToken cancellationToken)
        {
            Replaced.Add(missingCustomerId);
            return Task.FromResult(_replacements.Dequeue());
        }
    }

    private sealed class FakeStripe : IStripeGateway
    {
        public HashSet<string> Missing { get; } = [];

        public Exception? Failure { get; init; }

        public List<string> SessionsFor { get; } = [];

        public Task<CustomerRef> CreateCustomerAsync(CustomerCreation creation, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The issuer creates customers through the resolver, never directly.");

        public Task<IReadOnlyList<MadeCustomer>> FindCustomersOfAsync(string issuer, string userId, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The issuer never settles creations.");

        public Task DeleteCustomerAsync(string customerId, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The issuer never deletes customers.");

        public Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, SessionComponents components, CancellationToken cancellationToken)
        {
            SessionsFor.Add(customer.Id);
            if (Failure is not null)
            {
                throw Failure;
            }

            return Missing.Contains(customer.Id)
                ? throw new StripeCustomerMissingException(customer.Id, new InvalidOperationException("No such customer."))
                : Task.FromResult(new CreatedSession("cus_secret_for_" + customer.Id, DateTime.UtcNow.AddMinutes(30)));
        }
    }
}
