// The browser half of the BFF: the session cookie is HttpOnly (this script cannot read it) and rides along
// because of `credentials`; the X-CSRF header is what proves the call comes from a page this service trusts.
'use strict';

const api = (path, options = {}) => fetch(path, {
  ...options,
  credentials: 'same-origin',
  headers: { 'X-CSRF': '1', ...(options.headers || {}) },
});

const components = {
  paymentElement: { paymentElement: { enabled: true, features: {
    paymentMethodRedisplay: 'enabled', paymentMethodSave: 'enabled', paymentMethodRemove: 'enabled' } } },
  pricingTable: { pricingTable: { enabled: true } },
  buyButton: { buyButton: { enabled: true } },
};

const $ = (id) => document.getElementById(id);
const say = (text) => { $('status').textContent = text; };
let config = {};

async function start() {
  const [user, settings] = await Promise.all([api('/bff/user'), api('/api/config')]);
  config = settings.ok ? await settings.json() : {};
  if (user.status === 401) {
    $('signed-out').hidden = false;
    return;
  }
  const claims = Object.fromEntries((await user.json()).map((c) => [c.type, c.value]));
  $('user-name').textContent = claims.name || claims.sub;
  $('user-email').textContent = claims.email || 'no email';
  $('sign-out').href = claims['bff:logout_url'];
  $('signed-in').hidden = false;
  for (const button of document.querySelectorAll('[data-component]')) {
    button.addEventListener('click', () => render(button.dataset.component));
  }
}

// A fresh session for every render: the client secret is single-use and expires in 30 minutes, so it is
// never cached, stored or shown.
async function render(kind) {
  say('Asking for a customer session…');
  $('stripe-element').replaceChildren();
  const response = await api('/api/customer-sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ components: components[kind] }),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    say(`The session request failed: ${response.status} ${problem.title || ''}`);
    return;
  }
  const { clientSecret } = await response.json();
  if (typeof Stripe === 'undefined') {
    say('Got a customer session, but Stripe.js could not load (offline?).');
    return;
  }
  if (kind === 'paymentElement') mountPaymentElement(clientSecret);
  else mountStripeTag(kind, clientSecret);
}

function mountPaymentElement(customerSessionClientSecret) {
  const stripe = Stripe(config.publishableKey || 'pk_test_set_Stripe__PublishableKey');
  // Deferred intent: the amount is the page's; the customer session adds the user's saved payment methods.
  const elements = stripe.elements({ mode: 'payment', amount: 1099, currency: 'usd', customerSessionClientSecret });
  elements.create('payment').mount('#stripe-element');
  say('Payment Element mounted with your saved payment methods.');
}

function mountStripeTag(kind, clientSecret) {
  const tag = kind === 'pricingTable' ? 'stripe-pricing-table' : 'stripe-buy-button';
  const script = kind === 'pricingTable' ? 'pricing-table.js' : 'buy-button.js';
  if (!document.querySelector(`script[src$="${script}"]`)) {
    const element = document.createElement('script');
    element.src = `https://js.stripe.com/v3/${script}`;
    element.async = true;
    document.head.append(element);
  }
  const element = document.createElement(tag);
  element.setAttribute(kind === 'pricingTable' ? 'pricing-table-id' : 'buy-button-id',
    (kind === 'pricingTable' ? config.pricingTableId : config.buyButtonId) || '');
  element.setAttribute('publishable-key', config.publishableKey || '');
  element.setAttribute('customer-session-client-secret', clientSecret);
  $('stripe-element').append(element);
  say(`${kind === 'pricingTable' ? 'Pricing table' : 'Buy button'} mounted for your customer.`);
}

start().catch((error) => say(`Could not start: ${error.message}`));
