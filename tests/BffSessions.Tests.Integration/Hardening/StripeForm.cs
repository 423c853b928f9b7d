using System.Text.RegularExpressions;

namespace BffSessions.Tests.Hardening;

/// <summary>Stripe's rules for a customer session's form fields: what a well-formed request that reaches Stripe looks like.</summary>
public static partial class StripeForm
{
    private static readonly string[] EnabledDisabled = ["enabled", "disabled"];
    private static readonly string[] Redisplay = ["always", "limited", "unspecified"];

    private static readonly Dictionary<string, string[]> Features = new(StringComparer.Ordinal)
    {
        ["payment_element"] = ["payment_method_redisplay", "payment_method_redisplay_limit", "payment_method_allow_redisplay_filters", "payment_method_save", "payment_method_save_usage", "payment_method_remove"],
        ["mobile_payment_element"] = ["payment_method_redisplay", "payment_method_allow_redisplay_filters", "payment_method_save", "payment_method_save_allow_redisplay_override", "payment_method_remove"],
        ["customer_sheet"] = ["payment_method_allow_redisplay_filters", "payment_method_remove"],
        ["pricing_table"] = [],
        ["buy_button"] = [],
    };

    /// <summary>Every way <paramref name="form"/> breaks Stripe's rules; empty when Stripe would accept it.</summary>
    public static IReadOnlyList<string> Problems(IReadOnlyDictionary<string, string> form)
    {
        var problems = new List<string>();
        if (!form.TryGetValue("customer", out var customer) || !customer.StartsWith("cus_", StringComparison.Ordinal))
        {
            problems.Add("no customer");
        }

        var enabled = 0;
        foreach (var (key, value) in form.Where(f => f.Key != "customer"))
        {
            var match = Field().Match(key);
            if (!match.Success || !Features.TryGetValue(match.Groups["component"].Value, out var allowed))
            {
                problems.Add($"unknown field {key}");
                continue;
            }

            var feature = match.Groups["feature"].Value;
            var ok = feature switch
            {
                "" => value is "true" or "false",
                "payment_method_redisplay_limit" => int.TryParse(value, out var limit) && limit is >= 1 and <= 10,
                "payment_method_allow_redisplay_filters" => match.Groups["index"].Success && Redisplay.Contains(value),
                "payment_method_save_usage" => value is "off_session" or "on_session",
                "payment_method_save_allow_redisplay_override" => Redisplay.Contains(value),
                _ => EnabledDisabled.Contains(value),
            };
            if (feature.Length > 0 && !allowed.Contains(feature))
            {
                ok = false;
            }

            if (!ok)
            {
                problems.Add($"{key}={value}");
            }

            enabled += feature.Length == 0 && value == "true" ? 1 : 0;
        }

        if (enabled == 0)
        {
            problems.Add("no component enabled");
        }

        var filters = form.Where(f => f.Key.Contains("[payment_method_allow_redisplay_filters]", StringComparison.Ordinal))
            .GroupBy(f => f.Key[..f.Key.IndexOf("[features]", StringComparison.Ordinal)], StringComparer.Ordinal);
        problems.AddRange(filters.Where(g => g.Select(f => f.Value).Distinct(StringComparer.Ordinal).Count() != g.Count()).Select(g => $"duplicate filters in {g.Key}"));
        return problems;
    }

    [GeneratedRegex(@"^components\[(?<component>[a-z_]+)\](\[enabled\]|\[features\]\[(?<feature>[a-z_]+)\](\[(?<index>\d+)\])?)$")]
    private static partial Regex Field();
}
