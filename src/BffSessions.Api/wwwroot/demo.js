// The demo page's script. An ES module (index.html loads it with type="module") so it can import the browser kit the
// service serves at /bff/customer-sessions.js: the kit asks for customer sessions the way every page should (the
// HttpOnly session cookie rides along, X-CSRF: 1 proves a page this service trusts sent the call, Retry-After is
// waited out, a signed-out user is sent to /bff/login and back).
import { createCustomerSessions, CustomerSessionError, setElementSecret, updateElements } from '/bff/customer-sessions.js';

const sessions = createCustomerSessions();

// /bff/user is not the kit's business: a cookie call like any other, so it carries X-CSRF: 1 too (the service refuses
// a cookie call without it). /api/config is public; the header does no harm there.
const bff = (path) => fetch(path, { credentials: 'same-origin', headers: { 'X-CSRF': '1' } });

const components = {
  paymentElement: { paymentElement: { enabled: true, features: {
    paymentMethodRedisplay: 'enabled', paymentMethodSave: 'enabled', paymentMethodRemove: 'enabled' } } },
  pricingTable: { pricingTable: { enabled: true } },
  buyButton: { buyButton: { enabled: true } },
};

const $ = (id) => document.getElementById(id);
const say = (text) => { $('status').textContent = text; };
let config = {};
// The render on screen. Aborting it stops its renewals, or its request in flight, when another button replaces it.
let current;

async function start() {
  const [user, settings] = await Promise.all([bff('/bff/user'), bff('/api/config')]);
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
  current?.abort();
  const controller = new AbortController();
  current = controller;
  say('Asking for a customer session…');
  $('stripe-element').replaceChildren();
  try {
    if (kind === 'paymentElement') await mountPaymentElement(controller);
    else await mountStripeTag(kind, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return; // replaced by another render, which says its own status
    // On a 401 the kit has already sent the user to sign in; the problem's title says what any other failure was.
    say(error instanceof CustomerSessionError
      ? `The session request failed: ${error.status} ${error.title}`
      : `The session request failed: ${error.message}`);
  }
}

// The first secret mounts the Payment Element; each renewal, a minute before the last one expires, goes in with
// elements.update, so a page left open past 30 minutes still shows the saved payment methods. Resolves when aborted.
function mountPaymentElement(controller) {
  let elements;
  return sessions.keepFresh(components.paymentElement, (session) => {
    if (elements) return updateElements(elements)(session);
    if (typeof Stripe === 'undefined') {
      say('Got a customer session, but Stripe.js could not load (offline?).');
      controller.abort(); // nothing to keep fresh
      return;
    }
    const stripe = Stripe(config.publishableKey || 'pk_test_set_Stripe__PublishableKey');
    // Deferred intent: the amount is the page's; the customer session adds the user's saved payment methods.
    elements = stripe.elements({ mode: 'payment', amount: 1099, currency: 'usd', customerSessionClientSecret: session.clientSecret });
    elements.create('payment').mount('#stripe-element');
    say('Payment Element mounted with your saved payment methods.');
  }, { signal: controller.signal });
}

// The pricing table and the buy button take the secret as an attribute, once, when they render: one session per
// render, set before the element is attached.
async function mountStripeTag(kind, signal) {
  const session = await sessions.create(components[kind], { signal });
  if (signal.aborted) return; // another button was clicked while this answer was being read
  if (typeof Stripe === 'undefined') {
    say('Got a customer session, but Stripe.js could not load (offline?).');
    return;
  }
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
  setElementSecret(element)(session);
  $('stripe-element').append(element);
  say(`${kind === 'pricingTable' ? 'Pricing table' : 'Buy button'} mounted for your customer.`);
}

start().catch((error) => say(`Could not start: ${error.message}`));
