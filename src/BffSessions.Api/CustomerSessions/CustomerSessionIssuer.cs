using BffSessions.Api.Customers;
using BffSessions.Api.Payments;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// Issues a customer session for a user: resolve their customer, create the session, and — when Stripe says the
/// customer was deleted (in the Dashboard, say) — replace it once and try once more. A second "deleted" for the
/// replacement is not healed again: it escapes as <see cref="StripeCustomerMissingException"/>, a 502.
/// </summary>
public sealed class CustomerSessionIssuer(
    ICustomerResolver customers, IStripeGateway stripe, SessionMetrics metrics, IOptions<StripeOptions> stripeOptions, TimeProvider time)
{
    public async Task<IssuedSession> IssueAsync(CustomerOwner owner, SessionComponents components, CancellationToken cancellationToken)
    {
        // Every Stripe call of this request (a first one creates the customer too) shares one Stripe:Timeout and one
        // Stripe:BudgetWait, and counts as this user's in the budget's fair shares.
        using var allowance = StripeAllowance.Begin(owner.Key, stripeOptions.Value, time);
        var customer = await customers.ResolveAsync(owner, cancellationToken);
        CreatedSession session;
        try
        {
            session = await stripe.CreateCustomerSessionAsync(customer, components, cancellationToken);
        }
        catch (StripeCustomerMissingException missing)
        {
            customer = await customers.ReplaceMissingAsync(owner, missing.CustomerId, cancellationToken);
            session = await stripe.CreateCustomerSessionAsync(customer, components, cancellationToken);
        }

        foreach (var component in components.EnabledNames())
        {
            metrics.Created(component);
        }

        return new IssuedSession(customer, session);
    }
}

/// <summary>The session, and the customer it was created for.</summary>
public sealed record IssuedSession(CustomerRef Customer, CreatedSession Session);
