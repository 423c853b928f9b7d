using BffSessions.Api.Payments;

namespace BffSessions.Api.CustomerSessions;

// The request carries Stripe's POST /v1/customer_sessions `components` (Payments' SessionComponents, camelCased).
// There is deliberately no customer: it comes from the caller's identity.

/// <summary>Which Stripe components the front-end is about to mount for the signed-in user.</summary>
public sealed record CustomerSessionRequest(SessionComponents? Components);

/// <summary>
/// Everything of Stripe's customer session the front-end needs, and nothing more.
/// <c>expiresAt</c> is UTC (serialized with a Z); <c>customerId</c> is present only for the mobile Payment Element and the Customer Sheet.
/// </summary>
public sealed record CustomerSessionResponse(
    string ClientSecret,
    DateTime ExpiresAt,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? CustomerId);
