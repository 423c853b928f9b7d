using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace BffSessions.StandIn;

/// <summary>An error as Stripe writes it: <c>{"error":{"type","code","message","param"}}</c> with an HTTP status.</summary>
public sealed record StripeError(int Status, string Type, string? Code, string Message, string? Param = null)
{
    public JsonObject ToJson() => new()
    {
        ["error"] = new JsonObject { ["type"] = Type, ["code"] = Code, ["message"] = Message, ["param"] = Param },
    };

    public static StripeError Invalid(string? code, string message, string? param) => new(400, "invalid_request_error", code, message, param);

    public static StripeError Unknown(string param) => Invalid("parameter_unknown", $"Received unknown parameter: {param}", param);

    public static StripeError Missing(string param) => Invalid("parameter_missing", $"Missing required param: {param}.", param);

    public static StripeError TooLong(string param, int max) =>
        Invalid("parameter_invalid_string_too_long", $"Invalid string: the value of {param} must be at most {max} characters.", param);
}

/// <summary>
/// Stripe's parameter rules for every call this service makes: the component and feature rules of customer sessions,
/// and the field limits of customers and accounts (name ≤ 256, email ≤ 512 and a valid address, metadata ≤ 50 keys
/// of ≤ 40 characters with values ≤ 500). A request that breaks one is refused with a 400 before anything executes,
/// so Stripe stores no answer for its idempotency key.
/// </summary>
public static partial class StripeRules
{
    public const int MaxNameLength = 256;
    public const int MaxEmailLength = 512;
    public const int MaxMetadataKeys = 50;
    public const int MaxMetadataKeyLength = 40;
    public const int MaxMetadataValueLength = 500;
    public const int MaxIdempotencyKeyLength = 255;

    private static readonly string[] OnOff = ["enabled", "disabled"];
    private static readonly string[] Redisplay = ["always", "limited", "unspecified"];

    /// <summary>Each component and its features with their allowed values (null: a number rule of its own).</summary>
    private static readonly Dictionary<string, Dictionary<string, string[]?>> Components = new(StringComparer.Ordinal)
    {
        ["buy_button"] = [],
        ["pricing_table"] = [],
        ["payment_element"] = new(StringComparer.Ordinal)
        {
            ["payment_method_redisplay"] = OnOff,
            ["payment_method_redisplay_limit"] = null,
            ["payment_method_allow_redisplay_filters"] = Redisplay,
            ["payment_method_save"] = OnOff,
            ["payment_method_save_usage"] = ["off_session", "on_session"],
            ["payment_method_remove"] = OnOff,
        },
        ["mobile_payment_element"] = new(StringComparer.Ordinal)
        {
            ["payment_method_redisplay"] = OnOff,
            ["payment_method_save"] = OnOff,
            ["payment_method_remove"] = OnOff,
            ["payment_method_save_allow_redisplay_override"] = Redisplay,
            ["payment_method_allow_redisplay_filters"] = Redisplay,
        },
        ["customer_sheet"] = new(StringComparer.Ordinal)
        {
            ["payment_method_allow_redisplay_filters"] = Redisplay,
            ["payment_method_remove"] = OnOff,
        },
    };

    private static readonly HashSet<string> CustomerParams = new(StringComparer.Ordinal)
    {
        "address", "balance", "cash_balance", "description", "email", "expand", "invoice_prefix", "invoice_settings", "metadata",
        "name", "next_invoice_sequence", "payment_method", "phone", "preferred_locales", "shipping", "source", "tax", "tax_exempt",
        "tax_id_data", "test_clock",
    };

    private static readonly HashSet<string> AccountParams = new(StringComparer.Ordinal)
    {
        "contact_email", "display_name", "metadata", "configuration", "identity", "defaults", "dashboard", "include",
    };

    /// <summary>POST /v1/customer_sessions: which customer, and components as Stripe takes them.</summary>
    public static StripeError? CustomerSession(JsonObject form)
    {
        foreach (var (name, _) in form)
        {
            if (name is not ("customer" or "customer_account" or "components" or "expand"))
            {
                return StripeError.Unknown(name);
            }
        }

        var customer = Text(form["customer"]);
        var account = Text(form["customer_account"]);
        if (customer is not null && account is not null)
        {
            return StripeError.Invalid("parameter_invalid_combination", "You may only specify one of these parameters: customer, customer_account.", "customer");
        }

        if (customer is null && account is null)
        {
            return StripeError.Missing("customer");
        }

        if (form["components"] is not JsonObject components)
        {
            return form["components"] is null ? StripeError.Missing("components") : StripeError.Invalid("parameter_invalid", "Invalid object", "components");
        }

        var anyEnabled = false;
        foreach (var (component, value) in components)
        {
            var param = $"components[{component}]";
            if (!Components.TryGetValue(component, out var features))
            {
                return StripeError.Unknown(param);
            }

            if (value is not JsonObject settings)
            {
                return StripeError.Invalid("parameter_invalid", "Invalid object", param);
            }

            foreach (var (name, _) in settings)
            {
                if (name is not ("enabled" or "features") || (name == "features" && features.Count == 0))
                {
                    return StripeError.Unknown($"{param}[{name}]");
                }
            }

            switch (Text(settings["enabled"]))
            {
                case null:
                    return StripeError.Missing($"{param}[enabled]");
                case "true":
                    anyEnabled = true;
                    break;
                case "false":
                    break;
                default:
                    return StripeError.Invalid("parameter_invalid_boolean", "Invalid boolean.", $"{param}[enabled]");
            }

            if (settings["features"] is { } given && Features(param + "[features]", given, features) is { } error)
            {
                return error;
            }
        }

        return anyEnabled ? null : StripeError.Invalid("parameter_missing", "At least one component must be enabled.", "components");
    }

    private static StripeError? Features(string param, JsonNode given, Dictionary<string, string[]?> allowed)
    {
        if (given is not JsonObject features)
        {
            return StripeError.Invalid("parameter_invalid", "Invalid object", param);
        }

        foreach (var (name, value) in features)
        {
            var featureParam = $"{param}[{name}]";
            if (!allowed.TryGetValue(name, out var values))
            {
                return StripeError.Unknown(featureParam);
            }

            if (values is null)
            {
                // payment_method_redisplay_limit: an integer, at most 10 (and at least 1: a limit of nothing is no limit).
                if (!int.TryParse(Text(value), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit)
                    || limit is < 1 or > 10)
                {
                    return StripeError.Invalid("parameter_invalid_integer", "Invalid integer: must be between 1 and 10.", featureParam);
                }
            }
            else if (name.EndsWith("_filters", StringComparison.Ordinal))
            {
                if (value is not JsonArray items || items.Count == 0)
                {
                    return StripeError.Invalid("parameter_invalid", "Invalid array", featureParam);
                }

                foreach (var item in items)
                {
                    if (!values.Contains(Text(item)))
                    {
                        return StripeError.Invalid("parameter_invalid_enum", $"Invalid {name}: must be one of {string.Join(", ", values)}", featureParam);
                    }
                }
            }
            else if (!values.Contains(Text(value)))
            {
                return StripeError.Invalid("parameter_invalid_enum", $"Invalid {name}: must be one of {string.Join(", ", values)}", featureParam);
            }
        }

        return null;
    }

    /// <summary>POST /v1/customers: only Stripe's parameters, and this service's fields within Stripe's limits.</summary>
    public static StripeError? Customer(JsonObject form)
    {
        foreach (var (name, _) in form)
        {
            if (!CustomerParams.Contains(name))
            {
                return StripeError.Unknown(name);
            }
        }

        return Email("email", form["email"]) ?? Name("name", form["name"]) ?? Metadata(form["metadata"]);
    }

    /// <summary>POST /v2/core/accounts (JSON): an Account with the customer configuration, fields within Stripe's limits.</summary>
    public static StripeError? Account(JsonObject? body)
    {
        if (body is null)
        {
            return StripeError.Invalid("parameter_invalid", "The request body must be a JSON object.", null);
        }

        foreach (var (name, _) in body)
        {
            if (!AccountParams.Contains(name))
            {
                return StripeError.Unknown(name);
            }
        }

        if (body["configuration"]?["customer"] is not JsonObject)
        {
            return StripeError.Missing("configuration.customer");
        }

        return Email("contact_email", body["contact_email"]) ?? Name("display_name", body["display_name"]) ?? Metadata(body["metadata"]);
    }

    private static StripeError? Email(string param, JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        var email = Text(node);
        if (email is null || email.Length > MaxEmailLength)
        {
            return email is null ? StripeError.Invalid("parameter_invalid", "Invalid string", param) : StripeError.TooLong(param, MaxEmailLength);
        }

        return email.Length == 0 || IsEmailAddress(email) ? null : StripeError.Invalid("email_invalid", $"Invalid email address: {email}", param);
    }

    private static StripeError? Name(string param, JsonNode? node)
    {
        var name = node is null ? "" : Text(node);
        return name switch
        {
            null => StripeError.Invalid("parameter_invalid", "Invalid string", param),
            { Length: > MaxNameLength } => StripeError.TooLong(param, MaxNameLength),
            _ => null,
        };
    }

    private static StripeError? Metadata(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject metadata)
        {
            return StripeError.Invalid("parameter_invalid", "Invalid hash", "metadata");
        }

        if (metadata.Count > MaxMetadataKeys)
        {
            return StripeError.Invalid("parameter_invalid", $"Metadata can have at most {MaxMetadataKeys} keys.", "metadata");
        }

        foreach (var (key, value) in metadata)
        {
            if (key.Length > MaxMetadataKeyLength)
            {
                return StripeError.Invalid("parameter_invalid", $"Metadata keys can be at most {MaxMetadataKeyLength} characters.", $"metadata[{key}]");
            }

            if (Text(value) is not { } text)
            {
                return StripeError.Invalid("parameter_invalid", "Metadata values must be strings.", $"metadata[{key}]");
            }

            if (text.Length > MaxMetadataValueLength)
            {
                return StripeError.TooLong($"metadata[{key}]", MaxMetadataValueLength);
            }
        }

        return null;
    }

    /// <summary>
    /// An address Stripe takes: ASCII, a dot-atom local part of at most 64 characters and a domain of at least two
    /// labels and at most 255 (RFC 5321's lengths). Stripe does not
    /// publish its rule; this one refuses at least what Stripe refuses that a claim could carry (no @, spaces,
    /// angle brackets, a display name, a bare host, non-ASCII).
    /// </summary>
    public static bool IsEmailAddress(string value) => EmailAddress().IsMatch(value);

    // The service decides what to send with its own copy of this rule (src/BffSessions.Hosting/DisplayText.cs): the
    // stand-in judges for itself. A test checks that everything the service would send, this takes.

    [GeneratedRegex(@"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?=[^@]{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", RegexOptions.CultureInvariant)]
    private static partial Regex EmailAddress();

    /// <summary>
    /// A search query of the form Stripe's customer search takes, reduced to what this service asks: clauses
    /// <c>field:'value'</c> joined by AND, where field is email, name or <c>metadata['key']</c>.
    /// </summary>
    public static List<(string Field, string Value)>? SearchQuery(string? query)
    {
        if (string.IsNullOrWhiteSpace(query))
        {
            return null;
        }

        var clauses = new List<(string, string)>();
        foreach (var clause in query.Split(" AND ", StringSplitOptions.TrimEntries))
        {
            var match = SearchClause().Match(clause);
            if (!match.Success)
            {
                return null;
            }

            var field = match.Groups["meta"].Success ? "metadata." + match.Groups["meta"].Value : match.Groups["field"].Value;
            clauses.Add((field, Unescaped().Replace(match.Groups["value"].Value, "$1")));
        }

        return clauses;
    }

    [GeneratedRegex(@"^(?:metadata\['(?<meta>[^']+)'\]|(?<field>email|name)):'(?<value>(?:[^'\\]|\\.)*)'$", RegexOptions.CultureInvariant)]
    private static partial Regex SearchClause();

    /// <summary>A backslash escapes the character after it (a quote, a backslash).</summary>
    [GeneratedRegex(@"\\(.)", RegexOptions.CultureInvariant)]
    private static partial Regex Unescaped();

    public static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
