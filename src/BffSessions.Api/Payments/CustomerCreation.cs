using System.Security.Cryptography;
using System.Text;
using BffSessions.Hosting;

namespace BffSessions.Api.Payments;

/// <summary>
/// One attempt to create a user's Stripe customer: the idempotency key it is sent under and exactly the values sent.
/// It is recorded before the call (Customers), so a call whose answer was lost is repeated with the same key and the
/// same values, and Stripe answers with the customer it made instead of making a second one.
/// </summary>
/// <param name="Key">The idempotency key: random per attempt, never derived from the user (Stripe replays a stored 500 for a day).</param>
/// <param name="Kind">A v1 Customer or an Account v2.</param>
/// <param name="Issuer">The user's identity provider, as the user's key in the map.</param>
/// <param name="UserId">The user's subject there.</param>
/// <param name="Email">An address Stripe takes, or null (<see cref="StripeCustomerFields.Email"/>).</param>
/// <param name="Name">A name Stripe takes, or null (<see cref="StripeCustomerFields.Name"/>).</param>
/// <param name="Replacing">The customer this one replaces (deleted in Stripe), if any.</param>
public sealed record CustomerCreation(string Key, CustomerKind Kind, string Issuer, string UserId, string? Email, string? Name, string? Replacing)
{
    /// <summary>A new attempt for <paramref name="owner"/>: a fresh key, and the owner's name and email as Stripe takes them.</summary>
    public static CustomerCreation Start(CustomerOwner owner, CustomerKind kind, string? replacing) =>
        new(NewKey(kind), kind, owner.Issuer, owner.UserId, StripeCustomerFields.Email(owner.Email), StripeCustomerFields.Name(owner.Name), replacing);

    /// <summary>The same values under a new key: the last one is spent (Stripe keeps a failure for it).</summary>
    public CustomerCreation Again() => this with { Key = NewKey(Kind) };

    /// <summary>The same values without <paramref name="field"/> (which Stripe refused), under a new key.</summary>
    public CustomerCreation Without(CustomerField field) => this with
    {
        Key = NewKey(Kind),
        Email = field == CustomerField.Email ? null : Email,
        Name = field == CustomerField.Name ? null : Name,
    };

    /// <summary>Whether <paramref name="field"/> was sent, so that leaving it out changes anything.</summary>
    public bool Has(CustomerField field) => field switch
    {
        CustomerField.Email => Email is not null,
        CustomerField.Name => Name is not null,
        _ => false,
    };

    /// <summary>
    /// The metadata Stripe stores on the customer: who it is for (<c>issuer</c>, <c>user_id</c>), which attempt made it
    /// (<c>bffsessions_creation</c>: how an answer lost to a 500 is found later by search), and what it replaced.
    /// Every value within Stripe's 500 characters.
    /// </summary>
    public Dictionary<string, string> Metadata()
    {
        var metadata = new Dictionary<string, string>
        {
            ["user_id"] = StripeCustomerFields.MetadataValue(UserId),
            ["issuer"] = StripeCustomerFields.MetadataValue(Issuer),
            [StripeCustomerFields.CreationKeyMetadata] = Key,
        };
        if (Replacing is not null)
        {
            metadata["replaces"] = Replacing;
        }

        return metadata;
    }

    /// <summary>"bffsessions-customer-" or "bffsessions-account-", then 32 random hex digits: 53 characters, within Stripe's 255.</summary>
    private static string NewKey(CustomerKind kind) =>
        (kind == CustomerKind.Account ? "bffsessions-account-" : "bffsessions-customer-") + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}

/// <summary>The fields of a customer that come from the user's identity, and that Stripe may refuse.</summary>
public enum CustomerField
{
    Email,
    Name,
}

/// <summary>
/// What Stripe accepts on a customer (and an Account v2's contact): a name of at most 256 characters, an email of at
/// most 512 that is an address, metadata values of at most 500. An identity claim outside these is cut (a name),
/// left out (an email that is not an address) or hashed (an issuer longer than a metadata value), so that no claim
/// can make Stripe refuse the user's customer, and through it every session of theirs.
/// </summary>
public static class StripeCustomerFields
{
    public const int MaxNameLength = DisplayText.MaxNameLength;
    public const int MaxEmailLength = DisplayText.MaxEmailLength;
    public const int MaxMetadataValueLength = 500;

    /// <summary>The metadata key naming the creation attempt (at most 40 characters, as Stripe's keys).</summary>
    public const string CreationKeyMetadata = "bffsessions_creation";

    /// <summary>The name as Stripe should show it (<see cref="DisplayText.Clean"/>), or null.</summary>
    public static string? Name(string? name) => DisplayText.Clean(name, MaxNameLength);

    /// <summary>The address, or null when Stripe would refuse it.</summary>
    public static string? Email(string? email) => DisplayText.EmailAddress(email, MaxEmailLength);

    /// <summary>
    /// <paramref name="value"/> when it fits a metadata value, else "sha256:" and its hash: an issuer URL may be 512
    /// characters, and a cut one could name another issuer.
    /// </summary>
    public static string MetadataValue(string value) => value.Length <= MaxMetadataValueLength
        ? value
        : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
