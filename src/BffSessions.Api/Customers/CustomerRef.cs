namespace BffSessions.Api.Customers;

/// <summary>How a user is represented in Stripe (Customers:Kind).</summary>
public enum CustomerKind
{
    /// <summary>A v1 Customer (<c>cus_…</c>); sessions are created with <c>customer</c>.</summary>
    Customer,

    /// <summary>An Account v2 with the customer configuration (<c>acct_…</c>); sessions are created with <c>customer_account</c>.</summary>
    Account,
}

/// <summary>The Stripe object a user pays as, and which kind it is.</summary>
public readonly record struct CustomerRef(string Id, CustomerKind Kind);
