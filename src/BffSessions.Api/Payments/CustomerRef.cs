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
/// Whom a Stripe customer is for: a user, named by the identity provider that vouches for them (<paramref name="Issuer"/>)
/// and their subject there (<paramref name="UserId"/>): both go into Stripe's metadata (<c>issuer</c>, <c>user_id</c>) and
/// into the creation's idempotency key. <paramref name="Email"/> and <paramref name="Name"/> are what Stripe shows.
/// </summary>
public sealed record CustomerOwner(string Issuer, string UserId, string? Email, string? Name)
{
    /// <summary>One string per user, for locks and caches: the two parts cannot run together (a subject holds no control characters).</summary>
    public string Key => KeyOf(Issuer, UserId);

    /// <summary>The <see cref="Key"/> of the user <paramref name="userId"/> at <paramref name="issuer"/>.</summary>
    public static string KeyOf(string issuer, string userId) => issuer + "\n" + userId;
}

/// <summary>What this service reads of Stripe's customer session: the client secret and when it expires (UTC).</summary>
public sealed record CreatedSession(string ClientSecret, DateTime ExpiresAt);

/// <summary>A customer Stripe's search found, and the creation attempt that made it (its idempotency key), if it says.</summary>
public sealed record MadeCustomer(string Id, string? CreationKey);
