import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import * as kit from '../customer-sessions.js';
import { createCustomerSessions, CustomerSessionError, setElementSecret, updateElements } from '../customer-sessions.js';
import { fakeFetch, MINUTE, problemResponse, sessionResponse, settle, T0, withLocation } from './helpers.js';

const pricingTable = { pricingTable: { enabled: true } };
const returnUrlExamples = JSON.parse(await readFile(new URL('./return-urls.json', import.meta.url), 'utf8'));

describe('create: the request', () => {
  it('cookie mode: POSTs the components as JSON with the cookie and X-CSRF: 1, and no Authorization', async () => {
    const fetch = fakeFetch(sessionResponse({ clientSecret: 'cuss_secret_cookie' }));
    const components = {
      paymentElement: { enabled: true, features: { paymentMethodRedisplay: 'enabled', paymentMethodRedisplayLimit: 5 } },
      pricingTable: { enabled: false },
    };

    const session = await createCustomerSessions({ fetch }).create(components);

    assert.equal(fetch.calls.length, 1);
    const [call] = fetch.calls;
    assert.equal(call.url, '/api/customer-sessions');
    assert.equal(call.init.method, 'POST');
    assert.equal(call.init.credentials, 'include');
    assert.deepEqual(call.headers, { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF': '1' });
    assert.deepEqual(call.body, { components });
    assert.deepEqual(session, { clientSecret: 'cuss_secret_cookie', expiresAt: new Date(T0 + 30 * MINUTE) });
    assert.ok(session.expiresAt instanceof Date);
    assert.equal('customerId' in session, false);
  });

  it('getAccessToken with no token (undefined, or an empty string) rejects as signed out: no call, no cookie, no redirect', async (t) => {
    const assign = mock.fn();
    t.after(withLocation('/checkout', '', assign));
    for (const token of [undefined, '']) {
      const fetch = fakeFetch(sessionResponse());
      const onSignInRequired = mock.fn();

      const error = await createCustomerSessions({ fetch, onSignInRequired, getAccessToken: async () => token }).create(pricingTable).catch((e) => e);

      assert.ok(error instanceof CustomerSessionError);
      assert.equal(error.status, 401);
      assert.equal(error.type, 'urn:bffsessions:client:no-access-token');
      assert.equal(error.problem, undefined);
      assert.equal(fetch.calls.length, 0);
      assert.equal(onSignInRequired.mock.callCount(), 0);
    }
    assert.equal(assign.mock.callCount(), 0);
  });

  it('a token gone by the retry (signed out meanwhile) rejects as signed out, without a cookie call', async () => {
    const fetch = fakeFetch(problemResponse(503, 'stripe-busy', { retryAfter: 0 }), sessionResponse());
    const tokens = ['eyJ.token', undefined];

    await assert.rejects(createCustomerSessions({ fetch, getAccessToken: () => tokens.shift() }).create(pricingTable), {
      status: 401,
      type: 'urn:bffsessions:client:no-access-token',
    });
    assert.equal(fetch.calls.length, 1);
  });

  it('bearer mode: Authorization: Bearer, no cookie and no X-CSRF', async () => {
    const fetch = fakeFetch(sessionResponse());

    await createCustomerSessions({ fetch, getAccessToken: () => 'eyJ.token' }).create(pricingTable);

    const [call] = fetch.calls;
    assert.equal(call.init.credentials, 'omit');
    assert.deepEqual(call.headers, { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: 'Bearer eyJ.token' });
  });

  it('takes an async getAccessToken and asks it before every attempt', async () => {
    const fetch = fakeFetch(problemResponse(503, 'stripe-busy', { retryAfter: 0 }), sessionResponse());
    let n = 0;

    await createCustomerSessions({ fetch, getAccessToken: async () => `token-${++n}` }).create(pricingTable);

    assert.deepEqual(fetch.calls.map((c) => c.headers.Authorization), ['Bearer token-1', 'Bearer token-2']);
  });

  it('prefixes baseUrl (a trailing slash ignored) and passes customerId through when the service sends it', async () => {
    const fetch = fakeFetch(sessionResponse({ customerId: 'cus_123', expiresAt: '2026-11-26T10:30:00Z' }));

    const session = await createCustomerSessions({ fetch, baseUrl: 'https://pay.example.com/' })
      .create({ mobilePaymentElement: { enabled: true } });

    assert.equal(fetch.calls[0].url, 'https://pay.example.com/api/customer-sessions');
    assert.deepEqual(session, { clientSecret: 'cuss_secret_1', expiresAt: new Date('2026-11-26T10:30:00Z'), customerId: 'cus_123' });
  });

  it('passes the signal to fetch', async () => {
    const fetch = fakeFetch(sessionResponse());
    const controller = new AbortController();

    await createCustomerSessions({ fetch }).create(pricingTable, { signal: controller.signal });

    assert.equal(fetch.calls[0].init.signal, controller.signal);
  });

  it('uses the global fetch when none is given', async (t) => {
    const fetch = fakeFetch(sessionResponse({ clientSecret: 'cuss_secret_global' }));
    t.mock.method(globalThis, 'fetch', fetch);

    const session = await createCustomerSessions().create(pricingTable);

    assert.equal(session.clientSecret, 'cuss_secret_global');
    assert.equal(fetch.calls.length, 1);
  });
});

describe('create: sign-in on 401', () => {
  it('cookie mode: calls onSignInRequired with the login URL back to this page, then rejects with the 401', async (t) => {
    t.after(withLocation('/checkout', '?plan=pro&x=1'));
    const fetch = fakeFetch(problemResponse(401, 'unauthorized', { title: 'Sign in again' }));
    const onSignInRequired = mock.fn();

    const error = await createCustomerSessions({ fetch, onSignInRequired }).create(pricingTable).catch((e) => e);

    assert.deepEqual(onSignInRequired.mock.calls.map((c) => c.arguments), [['/bff/login?returnUrl=%2Fcheckout%3Fplan%3Dpro%26x%3D1']]);
    assert.ok(error instanceof CustomerSessionError);
    assert.equal(error.status, 401);
    assert.equal(error.type, 'urn:bffsessions:problem:unauthorized');
  });

  it('escapes what browsers leave raw in a query string, which /bff/login would refuse', async (t) => {
    t.after(withLocation('/caf%C3%A9', '?utm=a|b&q={x}^'));
    const onSignInRequired = mock.fn();

    await assert.rejects(createCustomerSessions({ fetch: fakeFetch(problemResponse(401, 'unauthorized')), onSignInRequired }).create(pricingTable));

    const loginUrl = new URL(onSignInRequired.mock.calls[0].arguments[0], 'https://shop.example');
    assert.equal(loginUrl.pathname, '/bff/login');
    assert.equal(loginUrl.searchParams.get('returnUrl'), '/caf%C3%A9?utm=a%7Cb&q=%7Bx%7D%5E');
  });

  for (const [why, pathname, search, expected] of [
    ['an escaped slash in the query', '/search', '?next=%2Fcheckout', '/search'],
    ['an escaped backslash or %', '/search', '?q=a%5Cb&r=100%25', '/search'],
    ['an escaped control in the query', '/search', '?q=a%0Ab', '/search'],
    ['a query that makes it longer than 2048 characters', '/search', `?q=${'x'.repeat(2048)}`, '/search'],
    ['a backslash left raw in the query', '/search', '?q=a\\b', '/search'],
    ['an empty segment in the path', '/a//b', '?x=1', '/'],
    ['a dot segment in the path', '/a/%2e%2e/b', '', '/'],
    ['a path that starts like another host', '//evil.example', '', '/'],
  ]) {
    it(`returns to the path alone, or the root, when /bff/login would refuse the page's URL: ${why}`, async (t) => {
      t.after(withLocation(pathname, search));
      const onSignInRequired = mock.fn();

      await assert.rejects(createCustomerSessions({ fetch: fakeFetch(problemResponse(401, 'unauthorized')), onSignInRequired }).create(pricingTable));

      const loginUrl = new URL(onSignInRequired.mock.calls[0].arguments[0], 'https://shop.example');
      assert.equal(loginUrl.searchParams.get('returnUrl'), expected);
    });
  }

  // The examples the service's own test reads too (SmallRulesTests): the kit's copy of the rule and the service's agree.
  for (const [url, accepted] of [...returnUrlExamples.accepted.map((u) => [u, true]), ...returnUrlExamples.refused.map((u) => [u, false])]) {
    it(`${accepted ? 'returns to' : 'does not return to'} ${JSON.stringify(url)}, as /bff/login ${accepted ? 'takes' : 'refuses'} it`, async (t) => {
      const at = url.indexOf('?');
      t.after(withLocation(at < 0 ? url : url.slice(0, at), at < 0 ? '' : url.slice(at)));
      const onSignInRequired = mock.fn();

      await assert.rejects(createCustomerSessions({ fetch: fakeFetch(problemResponse(401, 'unauthorized')), onSignInRequired }).create(pricingTable));

      const returnUrl = new URL(onSignInRequired.mock.calls[0].arguments[0], 'https://shop.example').searchParams.get('returnUrl');
      assert.equal(returnUrl === url, accepted);
    });
  }

  it('prefixes baseUrl to the login URL', async (t) => {
    t.after(withLocation('/shop', ''));
    const fetch = fakeFetch(problemResponse(401, 'unauthorized'));
    const onSignInRequired = mock.fn();

    await assert.rejects(createCustomerSessions({ fetch, onSignInRequired, baseUrl: 'https://pay.example.com' }).create(pricingTable));

    assert.equal(onSignInRequired.mock.calls[0].arguments[0], 'https://pay.example.com/bff/login?returnUrl=%2Fshop');
  });

  it('by default navigates with location.assign', async (t) => {
    const assign = mock.fn();
    t.after(withLocation('/pricing', '?a=b', assign));
    const fetch = fakeFetch(problemResponse(401, 'unauthorized'));

    await assert.rejects(createCustomerSessions({ fetch }).create(pricingTable), { status: 401 });

    assert.deepEqual(assign.mock.calls.map((c) => c.arguments), [['/bff/login?returnUrl=%2Fpricing%3Fa%3Db']]);
  });

  it('without a location (not a browser): returns to the root, and the default does not throw', async () => {
    assert.equal(globalThis.location, undefined);
    const onSignInRequired = mock.fn();

    await assert.rejects(createCustomerSessions({ fetch: fakeFetch(problemResponse(401, 'unauthorized')), onSignInRequired }).create(pricingTable));
    await assert.rejects(createCustomerSessions({ fetch: fakeFetch(problemResponse(401, 'unauthorized')) }).create(pricingTable), { status: 401 });

    assert.equal(onSignInRequired.mock.calls[0].arguments[0], '/bff/login?returnUrl=%2F');
  });

  for (const [how, endsWith] of [['the body then arrives whole', 'close'], ['the abort cuts the body short', 'error']]) {
    it(`an abort while the 401's body is read rejects with the abort, without onSignInRequired: ${how}`, async () => {
      const controller = new AbortController();
      const reason = new Error('page left');
      let body;
      const stream = new ReadableStream({ start: (c) => { body = c; } });
      const fetch = fakeFetch(new Response(stream, { status: 401, headers: { 'Content-Type': 'application/problem+json' } }));
      const onSignInRequired = mock.fn();

      const created = createCustomerSessions({ fetch, onSignInRequired }).create(pricingTable, { signal: controller.signal }).catch((e) => e);
      await settle();
      body.enqueue(new TextEncoder().encode('{"type":"urn:bffsessions:problem:unauth'));
      controller.abort(reason);
      if (endsWith === 'close') {
        body.enqueue(new TextEncoder().encode('orized","status":401}'));
        body.close();
      } else {
        body.error(reason);
      }

      assert.equal(await created, reason);
      assert.equal(onSignInRequired.mock.callCount(), 0);
    });
  }

  it('bearer mode: a 401 only rejects, no sign-in', async (t) => {
    const assign = mock.fn();
    t.after(withLocation('/checkout', '', assign));
    const onSignInRequired = mock.fn();
    const fetch = fakeFetch(problemResponse(401, 'unauthorized'));

    await assert.rejects(createCustomerSessions({ fetch, onSignInRequired, getAccessToken: () => 'expired' }).create(pricingTable), {
      status: 401,
      type: 'urn:bffsessions:problem:unauthorized',
    });
    assert.equal(onSignInRequired.mock.callCount(), 0);
    assert.equal(assign.mock.callCount(), 0);
  });

  it('a 401 for a missing X-CSRF header is not a sign-in (it would loop)', async () => {
    const onSignInRequired = mock.fn();
    const fetch = fakeFetch(problemResponse(401, 'csrf-header-missing'));

    await assert.rejects(createCustomerSessions({ fetch, onSignInRequired }).create(pricingTable), {
      type: 'urn:bffsessions:problem:csrf-header-missing',
    });
    assert.equal(onSignInRequired.mock.callCount(), 0);
  });

  it('other statuses do not ask for a sign-in', async () => {
    const onSignInRequired = mock.fn();
    const fetch = fakeFetch(problemResponse(403, 'forbidden'));

    await assert.rejects(createCustomerSessions({ fetch, onSignInRequired }).create(pricingTable), { status: 403 });
    assert.equal(onSignInRequired.mock.callCount(), 0);
  });
});

describe('create: errors', () => {
  it('builds the CustomerSessionError from the problem, keeping the whole body', async () => {
    const errors = { 'components.paymentElement.features.paymentMethodRedisplayLimit': ['Must be an integer from 1 to 10.'] };
    const fetch = fakeFetch(problemResponse(400, 'invalid-request', { title: 'The request breaks a rule of Stripe\'s', detail: 'See errors.', extra: { errors } }));

    const error = await createCustomerSessions({ fetch }).create(pricingTable).catch((e) => e);

    assert.ok(error instanceof CustomerSessionError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'CustomerSessionError');
    assert.equal(error.status, 400);
    assert.equal(error.type, 'urn:bffsessions:problem:invalid-request');
    assert.equal(error.title, 'The request breaks a rule of Stripe\'s');
    assert.equal(error.detail, 'See errors.');
    assert.equal(error.message, 'The request breaks a rule of Stripe\'s: See errors.');
    assert.equal(error.retryAfterSeconds, undefined);
    assert.deepEqual(error.problem, {
      type: 'urn:bffsessions:problem:invalid-request',
      title: 'The request breaks a rule of Stripe\'s',
      status: 400,
      traceId: '00-abc-def-01',
      detail: 'See errors.',
      errors,
    });
  });

  it('copes with a body that is not JSON: about:blank, the status text, no problem', async () => {
    const html = new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'Content-Type': 'text/html' } });

    const error = await createCustomerSessions({ fetch: fakeFetch(html) }).create(pricingTable).catch((e) => e);

    assert.ok(error instanceof CustomerSessionError);
    assert.equal(error.status, 502);
    assert.equal(error.type, 'about:blank');
    assert.equal(error.title, 'Bad Gateway');
    assert.equal(error.detail, undefined);
    assert.equal(error.problem, undefined);
    assert.equal(error.message, 'Bad Gateway');
  });

  it('copes with an empty body and no status text (HTTP/2): the title is the status', async () => {
    const empty = new Response(null, { status: 431 });

    const error = await createCustomerSessions({ fetch: fakeFetch(empty) }).create(pricingTable).catch((e) => e);

    assert.equal(error.status, 431);
    assert.equal(error.type, 'about:blank');
    assert.equal(error.title, 'HTTP 431');
    assert.equal(error.problem, undefined);
  });

  it('a JSON problem without a type is about:blank, with its own title', async () => {
    const bare = new Response(JSON.stringify({ title: 'Nope', status: 500 }), { status: 500, statusText: 'Internal Server Error' });

    const error = await createCustomerSessions({ fetch: fakeFetch(bare) }).create(pricingTable).catch((e) => e);

    assert.equal(error.type, 'about:blank');
    assert.equal(error.title, 'Nope');
    assert.deepEqual(error.problem, { title: 'Nope', status: 500 });
  });

  it('a network error rejects as fetch threw it, and is not retried', async () => {
    const failure = new TypeError('Failed to fetch');
    const fetch = fakeFetch(failure, sessionResponse());

    await assert.rejects(createCustomerSessions({ fetch }).create(pricingTable), (error) => error === failure);
    assert.equal(fetch.calls.length, 1);
  });

  for (const [why, body] of [
    ['no clientSecret', { expiresAt: '2026-11-26T10:30:00Z' }],
    ['an empty clientSecret', { clientSecret: '', expiresAt: '2026-11-26T10:30:00Z' }],
    ['an unreadable expiresAt', { clientSecret: 'cuss_secret_leak', expiresAt: 'soon' }],
    ['expiresAt as a number', { clientSecret: 'cuss_secret_leak', expiresAt: 1234567890 }],
    ['not JSON', 'cuss_secret_leak'],
  ]) {
    it(`a 200 with ${why} rejects as an invalid answer, without keeping the body`, async () => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      const fetch = fakeFetch(new Response(text, { status: 200, headers: { 'Content-Type': 'application/json' } }));

      const error = await createCustomerSessions({ fetch }).create(pricingTable).catch((e) => e);

      assert.ok(error instanceof CustomerSessionError);
      assert.equal(error.status, 200);
      assert.equal(error.type, 'urn:bffsessions:client:invalid-answer');
      assert.equal(error.problem, undefined);
      assert.doesNotMatch(`${error.message} ${JSON.stringify(error)}`, /cuss_secret/);
    });
  }
});

describe('helpers', () => {
  it('updateElements hands the secret to elements.update', async () => {
    const elements = { update: mock.fn() };

    await updateElements(elements)({ clientSecret: 'cuss_secret_9', expiresAt: new Date(T0) });

    assert.deepEqual(elements.update.mock.calls.map((c) => c.arguments), [[{ customerSessionClientSecret: 'cuss_secret_9' }]]);
  });

  it('setElementSecret sets the customer-session-client-secret attribute', async () => {
    const attributes = new Map();
    const element = { setAttribute: (name, value) => attributes.set(name, value) };

    await setElementSecret(element)({ clientSecret: 'cuss_secret_7', expiresAt: new Date(T0) });

    assert.deepEqual([...attributes], [['customer-session-client-secret', 'cuss_secret_7']]);
  });

  it('the module exports exactly the values customer-sessions.d.ts declares', async () => {
    const declarations = await readFile(new URL('../customer-sessions.d.ts', import.meta.url), 'utf8');
    const declared = [...declarations.matchAll(/^export (?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort();

    assert.deepEqual(Object.keys(kit).sort(), declared);
    assert.deepEqual(declared, ['CustomerSessionError', 'createCustomerSessions', 'setElementSecret', 'updateElements']);
  });
});
