using System.ComponentModel.DataAnnotations;
using BffSessions.Api.Payments;
using BffSessions.Hosting;

namespace BffSessions.Api.Customers;

/// <summary>The <c>Customers</c> section: what new users become in Stripe, and the in-memory map in front of the database.</summary>
public sealed class CustomersOptions
{
    public const string SectionName = "Customers";

    /// <summary>What a new user becomes in Stripe; users already in the map keep the kind they have.</summary>
    public CustomerKind Kind { get; set; } = CustomerKind.Customer;

    /// <summary>Most users kept in memory; the least recently added are dropped first when it is full. 0: none, every request asks the database.</summary>
    [Range(0, 10_000_000)]
    public int CacheSize { get; set; } = 100_000;

    /// <summary>How long a user's customer id is trusted from memory before the database is asked again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How soon every instance stops using a customer Stripe said is gone (a webhook that reached any instance).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan ForgottenCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often each instance settles customer creations whose outcome Stripe left unknown (CustomerCreationSettler).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan SettleInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The issuer (<c>iss</c>) of the users the map held before it recorded issuers: such a user keeps their customer
    /// when they next sign in with it. Empty: the first issuer this deployment trusts (the bearer scheme's ValidIssuer,
    /// else its Authority, else the OpenID Connect Authority; CustomerSessions fills it in from Identity's settings).
    /// </summary>
    [MaxLength(IdentityLimits.MaxIssuerLength)]
    public string? LegacyIssuer { get; set; }
}
