namespace BffSessions.Tests.Browser;

/// <summary>
/// Stripe.js cannot load offline, so the browser tests answer https://js.stripe.com/v3/… themselves with these
/// scripts, which record in window.__stripe.calls exactly what the page hands to Stripe.
/// </summary>
public static class StripeJsStandIn
{
    private const string Recorder = "window.__stripe = window.__stripe || { calls: [] };\n";

    private const string StripeJs = Recorder + """
        window.Stripe = function (publishableKey) {
          window.__stripe.calls.push({ fn: 'Stripe', publishableKey });
          return {
            elements(options) {
              window.__stripe.calls.push({ fn: 'elements', options });
              return {
                create(type) {
                  return {
                    mount(selector) {
                      window.__stripe.calls.push({ fn: 'mount', type, selector });
                      document.querySelector(selector).textContent = 'Stripe ' + type + ' (stand-in)';
                    },
                  };
                },
              };
            },
          };
        };
        """;

    private static string CustomElement(string tag, string idAttribute) => Recorder + $$"""
        customElements.define('{{tag}}', class extends HTMLElement {
          connectedCallback() {
            window.__stripe.calls.push({
              fn: '{{tag}}',
              id: this.getAttribute('{{idAttribute}}'),
              publishableKey: this.getAttribute('publishable-key'),
              customerSessionClientSecret: this.getAttribute('customer-session-client-secret'),
            });
            this.textContent = '{{tag}} (stand-in)';
          }
        });
        """;

    public static string For(string url) => new Uri(url).AbsolutePath switch
    {
        "/v3/pricing-table.js" => CustomElement("stripe-pricing-table", "pricing-table-id"),
        "/v3/buy-button.js" => CustomElement("stripe-buy-button", "buy-button-id"),
        _ => StripeJs,
    };
}
