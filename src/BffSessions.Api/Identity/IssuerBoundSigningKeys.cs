using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using BffSessions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace BffSessions.Api.Identity;

/// <summary>
/// The bearer scheme's signing keys, each bound to the issuer it signs for. ASP.NET Core binds
/// <c>SigningKeys:N:{Issuer,Value}</c> into one flat list, and Microsoft.IdentityModel lets any key in that list vouch
/// for any trusted issuer: whoever holds issuer A's key could mint a token with <c>iss</c> B and be B's user, with B's
/// user's Stripe customer. Here a token's signature is checked only against the keys of the issuer it names: the keys
/// configured for that issuer, and, when it is the Authority's issuer, the keys of the Authority's metadata.
/// </summary>
internal sealed class IssuerBoundSigningKeys
{
    private readonly FrozenDictionary<string, KeySet> _configured;

    // The Authority's metadata is replaced, never changed, when it is refreshed: one key set per document, built on first use.
    private readonly ConditionalWeakTable<BaseConfiguration, KeySet> _fromMetadata = new();
    private readonly ConditionalWeakTable<BaseConfiguration, KeySet>.CreateValueCallback _forMetadata;

    private IssuerBoundSigningKeys(Dictionary<string, List<SecurityKey>> configured)
    {
        _configured = configured.ToFrozenDictionary(pair => pair.Key, pair => new KeySet([.. pair.Value]), StringComparer.Ordinal);
        All = [.. _configured.Values.SelectMany(keys => keys.All)];
        _forMetadata = metadata => new KeySet([.. metadata.SigningKeys, .. _configured.GetValueOrDefault(metadata.Issuer)?.All ?? []]);
    }

    /// <summary>Every configured key, whatever its issuer.</summary>
    public SecurityKey[] All { get; }

    /// <summary>
    /// Reads the scheme's <c>SigningKeys</c> into <paramref name="parameters"/>, bound to their issuers. Called once per
    /// change of the settings, never per request: the handler copies the parameters on every request, and the arrays
    /// here are shared by every copy.
    /// </summary>
    /// <exception cref="SettingsException">A key has no Value, a Value that is not base64, or no Issuer where it cannot be told.</exception>
    public static void Bind(TokenValidationParameters parameters, IConfiguration scheme)
    {
        var keys = new IssuerBoundSigningKeys(Read(scheme.GetSection("SigningKeys"), TrustedIssuers(parameters)));
        parameters.IssuerSigningKeys = keys.All;
        parameters.IssuerSigningKeyResolverUsingConfiguration = keys.Resolve;
        // Else a token whose issuer has no key here would be tried against every key there is, other issuers' included.
        parameters.TryAllIssuerSigningKeys = false;
        // The issuer is checked before the signature, so that a token of an issuer this service does not trust is told so:
        // the other way round it would read as signed by an unknown key (that issuer has none here).
        parameters.ValidateSignatureLast = true;
    }

    /// <summary>The keys that may have signed <paramref name="token"/>: only those of the issuer it names.</summary>
    private SecurityKey[] Resolve(string encoded, SecurityToken token, string keyId, TokenValidationParameters parameters, BaseConfiguration? metadata)
    {
        var issuer = token.Issuer ?? "";
        var keys = metadata is { Issuer.Length: > 0 } && string.Equals(metadata.Issuer, issuer, StringComparison.Ordinal)
            ? _fromMetadata.GetValue(metadata, _forMetadata)
            : _configured.GetValueOrDefault(issuer);
        return keys?.For(keyId) ?? [];
    }

    private static string[] TrustedIssuers(TokenValidationParameters parameters) =>
        [.. new[] { parameters.ValidIssuer }.Concat(parameters.ValidIssuers ?? []).OfType<string>().Where(issuer => !string.IsNullOrWhiteSpace(issuer)).Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// The keys as `dotnet user-jwts` writes them: <c>Issuer</c> and a base64 <c>Value</c>. A key without an Issuer belongs
    /// to the scheme's one trusted issuer; with several (or none) it could be anyone's, so start-up stops instead.
    /// </summary>
    private static Dictionary<string, List<SecurityKey>> Read(IConfigurationSection signingKeys, string[] trustedIssuers)
    {
        var byIssuer = new Dictionary<string, List<SecurityKey>>(StringComparer.Ordinal);
        foreach (var entry in signingKeys.GetChildren())
        {
            var issuer = entry["Issuer"];
            if (string.IsNullOrWhiteSpace(issuer))
            {
                issuer = trustedIssuers.Length == 1
                    ? trustedIssuers[0]
                    : throw new SettingsException(
                        $"{entry.Path}:Issuer is required: the bearer scheme trusts {(trustedIssuers.Length == 0 ? "no ValidIssuer" : $"{trustedIssuers.Length} issuers")}, " +
                        "and a signing key is valid only for the one issuer (iss) it names.");
            }

            var text = entry["Value"];
            if (string.IsNullOrEmpty(text))
            {
                throw new SettingsException($"{entry.Path}:Value is required: the key, in base64.");
            }

            byte[] value;
            try
            {
                value = Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                throw new SettingsException($"{entry.Path}:Value is not base64.");
            }

            if (!byIssuer.TryGetValue(issuer, out var keys))
            {
                byIssuer[issuer] = keys = [];
            }

            keys.Add(new SymmetricSecurityKey(value));
        }

        return byIssuer;
    }

    /// <summary>One issuer's keys, and for a token that names its key (kid), that key alone.</summary>
    private sealed class KeySet(SecurityKey[] all)
    {
        private readonly FrozenDictionary<string, SecurityKey[]> _byKeyId = all
            .Where(key => !string.IsNullOrEmpty(key.KeyId))
            .GroupBy(key => key.KeyId, StringComparer.Ordinal)
            .ToFrozenDictionary(group => group.Key, group => group.ToArray(), StringComparer.Ordinal);

        public SecurityKey[] All { get; } = all;

        // As Microsoft.IdentityModel picks keys by itself: the kid's key, else (no kid, or a kid that matches none) all of them.
        public SecurityKey[] For(string? keyId) => !string.IsNullOrEmpty(keyId) && _byKeyId.TryGetValue(keyId, out var keys) ? keys : All;
    }
}
