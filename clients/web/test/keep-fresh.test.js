// keepFresh on a fake clock: a secret at once, the next refreshBeforeSeconds before expiry, until the signal aborts.
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';

import { createCustomerSessions, CustomerSessionError } from '../customer-sessions.js';
import { fakeClock, fakeFetch, MINUTE, problemResponse, sessionResponse, settle, T0, until } from './helpers.js';

const paymentElement = { paymentElement: { enabled: true, features: { paymentMethodRedisplay: 'enabled' } } };

/** A session that expires 30 minutes from the (fake) now, as the service's do. */
const fresh = (n) => () => sessionResponse({ clientSecret: `cuss_secret_${n}`, expiresAt: new Date(Date.now() + 30 * MINUTE) });

describe('keepFresh', () => {
  let clock;
  beforeEach((t) => {
    clock = fakeClock(t.mock);
  });
  afterEach(() => clock.restore());

  it('hands over a secret at once, the next one refreshBeforeSeconds (60) before expiry, and stops on abort', async () => {
    const fetch = fakeFetch(fresh(1), fresh(2), fresh(3));
    const controller = new AbortController();
    const secrets = [];
    const onSecret = (session) => {
      secrets.push({ secret: session.clientSecret, at: Date.now(), expiresAt: session.expiresAt.getTime() });
    };

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => clock.delays.length === 1, 'the first renewal to be scheduled');

    assert.deepEqual(secrets, [{ secret: 'cuss_secret_1', at: T0, expiresAt: T0 + 30 * MINUTE }]);
    assert.deepEqual(clock.delays, [29 * MINUTE]);
    assert.deepEqual(fetch.calls[0].body, { components: paymentElement });

    clock.tick(29 * MINUTE - 1);
    await settle();
    assert.equal(fetch.calls.length, 1, 'not renewed before expiresAt - 60 s');

    clock.tick(1);
    await until(() => clock.delays.length === 2, 'the second renewal to be scheduled');
    assert.deepEqual(secrets.map((s) => [s.secret, s.at - T0]), [['cuss_secret_1', 0], ['cuss_secret_2', 29 * MINUTE]]);
    assert.equal(clock.delays[1], 29 * MINUTE);
    assert.equal(fetch.calls[1].init.signal, controller.signal, 'each mint gets the signal');

    assert.deepEqual(clock.cleared, [], 'a timer that fired is not cleared');
    controller.abort();
    assert.equal(await running, undefined, 'an abort resolves keepFresh');
    assert.deepEqual(clock.cleared, [clock.timers[1]], 'the pending renewal\'s timer was cleared');
    clock.tick(24 * 60 * MINUTE);
    await settle();
    assert.equal(fetch.calls.length, 2);
    assert.equal(secrets.length, 2);
  });

  it('honours refreshBeforeSeconds', async () => {
    const fetch = fakeFetch(fresh(1));
    const controller = new AbortController();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, () => {}, { signal: controller.signal, refreshBeforeSeconds: 300 });
    await until(() => clock.delays.length === 1, 'the renewal to be scheduled');

    assert.deepEqual(clock.delays, [25 * MINUTE]);
    controller.abort();
    await running;
  });

  for (const [how, skewMs] of [['ahead', 2 * 60 * MINUTE], ['behind', -2 * 60 * MINUTE]]) {
    it(`times the renewal by the service's clock (its Date header), not by a client clock two hours ${how}`, async () => {
      // The service's now is T0 - skew; its sessions last 30 minutes from then.
      const serverNow = () => new Date(Date.now() - skewMs);
      const skewed = (n) => () => sessionResponse({ clientSecret: `cuss_secret_${n}`, date: serverNow(), expiresAt: new Date(serverNow().getTime() + 30 * MINUTE) });
      const fetch = fakeFetch(skewed(1), skewed(2));
      const controller = new AbortController();
      const onSecret = mock.fn();

      const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
      await until(() => clock.delays.length === 1, 'the first renewal');
      clock.tick(29 * MINUTE);
      await until(() => clock.delays.length === 2, 'the second renewal');

      assert.deepEqual(clock.delays, [29 * MINUTE, 29 * MINUTE]);
      assert.equal(onSecret.mock.callCount(), 2);
      controller.abort();
      await running;
    });
  }

  it('a Date header that cannot be read leaves the client clock to go on', async () => {
    const fetch = fakeFetch(sessionResponse({ date: 'yesterday', expiresAt: new Date(T0 + 30 * MINUTE) }));
    const controller = new AbortController();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, () => {}, { signal: controller.signal });
    await until(() => clock.delays.length === 1, 'the renewal');

    assert.deepEqual(clock.delays, [29 * MINUTE]);
    controller.abort();
    await running;
  });

  it('never renews sooner than 10 s later: a session already expired, or shorter than refreshBeforeSeconds', async () => {
    const fetch = fakeFetch(
      sessionResponse({ date: new Date(T0), expiresAt: new Date(T0 - 5 * MINUTE) }),
      () => sessionResponse({ date: new Date(Date.now()), expiresAt: new Date(Date.now() + 30_000) }),
    );
    const controller = new AbortController();
    const onSecret = mock.fn();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => clock.delays.length === 1, 'the first renewal');
    assert.deepEqual(clock.delays, [10_000]);
    clock.tick(10_000);
    await until(() => clock.delays.length === 2, 'the second renewal');

    assert.deepEqual(clock.delays, [10_000, 10_000]);
    assert.equal(onSecret.mock.callCount(), 2);
    controller.abort();
    await running;
  });

  for (const refreshBeforeSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY, '60', null]) {
    it(`refuses refreshBeforeSeconds: ${String(refreshBeforeSeconds)} before minting anything`, async () => {
      const fetch = fakeFetch(fresh(1));

      await assert.rejects(createCustomerSessions({ fetch }).keepFresh(paymentElement, () => {}, { refreshBeforeSeconds }), RangeError);
      assert.equal(fetch.calls.length, 0);
    });
  }

  it('refreshBeforeSeconds: 0 renews at expiresAt', async () => {
    const fetch = fakeFetch(fresh(1));
    const controller = new AbortController();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, () => {}, { signal: controller.signal, refreshBeforeSeconds: 0 });
    await until(() => clock.delays.length === 1, 'the renewal');

    assert.deepEqual(clock.delays, [30 * MINUTE]);
    controller.abort();
    await running;
  });

  it('never schedules beyond setTimeout\'s 32-bit limit (it would fire at once)', async () => {
    const fetch = fakeFetch(sessionResponse({ expiresAt: new Date(T0 + 365 * 24 * 60 * MINUTE) }));
    const controller = new AbortController();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, () => {}, { signal: controller.signal });
    await until(() => clock.delays.length === 1, 'the renewal');

    assert.deepEqual(clock.delays, [2 ** 31 - 1]);
    controller.abort();
    await running;
  });

  it('waits for an async onSecret before scheduling the next renewal', async () => {
    const fetch = fakeFetch(fresh(1), fresh(2));
    const controller = new AbortController();
    let finish;
    const onSecret = mock.fn(() => new Promise((resolve) => { finish = resolve; }));

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => onSecret.mock.callCount() === 1, 'onSecret');
    await settle();
    assert.deepEqual(clock.delays, [], 'nothing scheduled while onSecret runs');

    clock.tick(5000);
    finish();
    await until(() => clock.delays.length === 1, 'the renewal');
    assert.deepEqual(clock.delays, [29 * MINUTE - 5000], 'counted from when onSecret finished');
    controller.abort();
    await running;
  });

  it('an abort while a mint is in flight resolves, and onSecret is not called for it', async () => {
    let answer;
    const fetch = fakeFetch(() => new Promise((resolve) => { answer = resolve; }));
    const controller = new AbortController();
    const onSecret = mock.fn();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => fetch.calls.length === 1, 'the first mint');
    assert.equal(fetch.calls[0].init.signal, controller.signal);
    controller.abort();

    assert.equal(await running, undefined);
    answer(sessionResponse());
    await settle();
    assert.equal(onSecret.mock.callCount(), 0);
    assert.deepEqual(clock.delays, []);
  });

  it('a mint that completes despite the abort (fetch ignored the signal) is not handed over', async () => {
    let answer;
    // A fetch that ignores the signal, as a polyfill might.
    const stubborn = async () => new Promise((resolve) => { answer = resolve; });
    const controller = new AbortController();
    const onSecret = mock.fn();

    const running = createCustomerSessions({ fetch: stubborn }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => answer !== undefined, 'the mint');
    controller.abort();
    answer(sessionResponse());

    assert.equal(await running, undefined);
    assert.equal(onSecret.mock.callCount(), 0);
    assert.deepEqual(clock.delays, []);
  });

  it('an abort during a renewal\'s Retry-After wait resolves too', async () => {
    const fetch = fakeFetch(fresh(1), problemResponse(429, 'rate-limited', { retryAfter: 5 }), fresh(2));
    const controller = new AbortController();
    const onSecret = mock.fn();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });
    await until(() => clock.delays.length === 1, 'the renewal');
    clock.tick(29 * MINUTE);
    await until(() => clock.delays.length === 2, 'the Retry-After wait');
    assert.equal(clock.delays[1], 5000);
    controller.abort();

    assert.equal(await running, undefined);
    clock.tick(5000);
    await settle();
    assert.equal(fetch.calls.length, 2);
    assert.equal(onSecret.mock.callCount(), 1);
  });

  it('an abort while onSecret runs: nothing more is minted or handed over', async () => {
    const fetch = fakeFetch(fresh(1), fresh(2));
    const controller = new AbortController();
    const onSecret = mock.fn(() => controller.abort());

    await createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal });

    assert.equal(onSecret.mock.callCount(), 1);
    clock.tick(60 * MINUTE);
    await settle();
    assert.equal(fetch.calls.length, 1);
  });

  it('a signal aborted beforehand: resolves without minting', async () => {
    const fetch = fakeFetch(fresh(1));
    const onSecret = mock.fn();

    await createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: AbortSignal.abort() });

    assert.equal(fetch.calls.length, 0);
    assert.equal(onSecret.mock.callCount(), 0);
  });

  it('a failing first mint rejects keepFresh with that error', async () => {
    const fetch = fakeFetch(problemResponse(400, 'invalid-request'));
    const onSecret = mock.fn();

    await assert.rejects(createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret), (error) =>
      error instanceof CustomerSessionError && error.status === 400 && error.type === 'urn:bffsessions:problem:invalid-request');
    assert.equal(onSecret.mock.callCount(), 0);
  });

  it('a failing renewal rejects keepFresh with that error, and nothing more is scheduled', async () => {
    const fetch = fakeFetch(fresh(1), problemResponse(502, 'stripe-error', { title: 'Stripe failed' }), fresh(3));
    const controller = new AbortController();
    const onSecret = mock.fn();

    const running = createCustomerSessions({ fetch }).keepFresh(paymentElement, onSecret, { signal: controller.signal }).catch((e) => e);
    await until(() => clock.delays.length === 1, 'the renewal');
    clock.tick(29 * MINUTE);
    const error = await running;

    assert.ok(error instanceof CustomerSessionError);
    assert.equal(error.status, 502);
    assert.equal(error.title, 'Stripe failed');
    assert.equal(onSecret.mock.callCount(), 1);
    assert.deepEqual(clock.delays, [29 * MINUTE]);
    clock.tick(60 * MINUTE);
    await settle();
    assert.equal(fetch.calls.length, 2);
  });

  it('a network error rejects keepFresh with that error', async () => {
    const failure = new TypeError('Failed to fetch');

    await assert.rejects(createCustomerSessions({ fetch: fakeFetch(failure) }).keepFresh(paymentElement, () => {}), (error) => error === failure);
  });

  it('an onSecret that throws rejects keepFresh with its error', async () => {
    const fetch = fakeFetch(fresh(1), fresh(2));
    const failure = new Error('Stripe.js refused the secret');

    await assert.rejects(createCustomerSessions({ fetch }).keepFresh(paymentElement, () => { throw failure; }), (error) => error === failure);
    assert.equal(fetch.calls.length, 1);
    assert.deepEqual(clock.delays, []);
  });
});
