using System.Globalization;
using System.Text;
using BffSessions.Api.Customers;

namespace BffSessions.Api.CustomerSessions;

/// <summary>
/// The validated request as Stripe's form for <c>POST /v1/customer_sessions</c>: field for field, nothing added, in
/// Stripe's names (<c>components[payment_element][features][payment_method_save]=enabled</c>, lists indexed from 0).
/// Written directly rather than through Stripe.net's options classes, whose encoder reflects over every property on
/// every call: on the one request this service answers that was the largest single cost (docs/benchmarks.md).
/// The exact form is pinned by the tests against the Stripe stand-in.
/// </summary>
public static class StripeComponents
{
    public static string ToStripeForm(this SessionComponents c, CustomerRef customer)
    {
        var form = new Form();
        // Exactly one of customer / customer_account, by the kind the map recorded.
        form.Add(customer.Kind == CustomerKind.Account ? "customer_account" : "customer", customer.Id);
        if (c.PaymentElement is { } pe)
        {
            const string prefix = "components[payment_element]";
            form.Add(prefix + "[enabled]", pe.Enabled);
            if (pe.Features is { } f)
            {
                const string features = prefix + "[features]";
                form.Add(features + "[payment_method_redisplay]", f.PaymentMethodRedisplay);
                form.Add(features + "[payment_method_redisplay_limit]", f.PaymentMethodRedisplayLimit?.ToString(CultureInfo.InvariantCulture));
                form.AddList(features + "[payment_method_allow_redisplay_filters]", f.PaymentMethodAllowRedisplayFilters);
                form.Add(features + "[payment_method_save]", f.PaymentMethodSave);
                form.Add(features + "[payment_method_save_usage]", f.PaymentMethodSaveUsage);
                form.Add(features + "[payment_method_remove]", f.PaymentMethodRemove);
            }
        }

        if (c.PricingTable is { } pt)
        {
            form.Add("components[pricing_table][enabled]", pt.Enabled);
        }

        if (c.BuyButton is { } bb)
        {
            form.Add("components[buy_button][enabled]", bb.Enabled);
        }

        if (c.MobilePaymentElement is { } mpe)
        {
            const string prefix = "components[mobile_payment_element]";
            form.Add(prefix + "[enabled]", mpe.Enabled);
            if (mpe.Features is { } f)
            {
                const string features = prefix + "[features]";
                form.Add(features + "[payment_method_redisplay]", f.PaymentMethodRedisplay);
                form.AddList(features + "[payment_method_allow_redisplay_filters]", f.PaymentMethodAllowRedisplayFilters);
                form.Add(features + "[payment_method_save]", f.PaymentMethodSave);
                form.Add(features + "[payment_method_save_allow_redisplay_override]", f.PaymentMethodSaveAllowRedisplayOverride);
                form.Add(features + "[payment_method_remove]", f.PaymentMethodRemove);
            }
        }

        if (c.CustomerSheet is { } cs)
        {
            const string prefix = "components[customer_sheet]";
            form.Add(prefix + "[enabled]", cs.Enabled);
            if (cs.Features is { } f)
            {
                const string features = prefix + "[features]";
                form.AddList(features + "[payment_method_allow_redisplay_filters]", f.PaymentMethodAllowRedisplayFilters);
                form.Add(features + "[payment_method_remove]", f.PaymentMethodRemove);
            }
        }

        return form.ToString();
    }

    /// <summary>application/x-www-form-urlencoded; a null value is left out, as Stripe.net leaves out unset options.</summary>
    private sealed class Form
    {
        private readonly StringBuilder _text = new(256);

        public void Add(string key, bool? value) => Add(key, value switch { true => "true", false => "false", null => null });

        public void Add(string key, string? value)
        {
            if (value is null)
            {
                return;
            }

            if (_text.Length > 0)
            {
                _text.Append('&');
            }

            _text.Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }

        public void AddList(string key, IReadOnlyList<string?>? values)
        {
            for (var i = 0; values is not null && i < values.Count; i++)
            {
                Add(key + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", values[i]);
            }
        }

        public override string ToString() => _text.ToString();
    }
}
