namespace BffSessions.Api.Payments;

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

/// <summary>
/// Whom a new Stripe customer is for: our user id (stored in Stripe's metadata as <c>user_id</c>, and the root of the
/// creation's idempotency key), and the email and name Stripe shows on it.
/// </summary>
public sealed record CustomerOwner(string UserId, string? Email, string? Name);

/// <summary>What this service reads of Stripe's customer session: the client secret and when it expires (UTC).</summary>
public sealed record CreatedSession(string ClientSecret, DateTime ExpiresAt);
