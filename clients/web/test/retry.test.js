// 429 and 503 with a Retry-After: waited out on a fake clock, retried, bounded, abortable.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createCustomerSessions, CustomerSessionError } from '../customer-sessions.js';
import { fakeClock, fakeFetch, problemResponse, sessionResponse, settle, T0, until } from './helpers.js';

const buyButton = { buyButton: { enabled: true } };

describe('Retry-After', () => {
  let clock;
  beforeEach((t) => {
    clock = fakeClock(t.mock);
  });
  afterEach(() => clock.restore());

  it('429 with Retry-After in seconds: waits exactly that long, then retries and resolves', async () => {
    const fetch = fakeFetch(problemResponse(429, 'rate-limited', { retryAfter: 2 }), sessionResponse({ clientSecret: 'cuss_secret_after' }));

    const created = createCustomerSessions({ fetch }).create(buyButton);
    await until(() => clock.delays.length === 1, 'the wait');

    assert.deepEqual(clock.delays, [2000]);
    clock.tick(1999);
    await settle();
    assert.equal(fetch.calls.length, 1, 'no retry before Retry-After has passed');
    clock.tick(1);
    const session = await created;
    assert.equal(fetch.calls.length, 2);
    assert.equal(session.clientSecret, 'cuss_secret_after');
    assert.deepEqual(fetch.calls[1].body, fetch.calls[0].body);
  });

  it('503 with Retry-After as an HTTP date: waits until then', async () => {
    const at = new Date(T0 + 3000).toUTCString(); // "Thu, 26 Nov 2026 10:00:03 GMT"
    const fetch = fakeFetch(problemResponse(503, 'stripe-busy', { retryAfter: at }), sessionResponse());

    const created = createCustomerSessions({ fetch }).create(buyButton);
    await until(() => clock.delays.length === 1, 'the wait');

    assert.deepEqual(clock.delays, [3000]);
    clock.tick(3000);
    await created;
    assert.equal(fetch.calls.length, 2);
  });

  it('an HTTP date in the past is no wait at all', async () => {
    const fetch = fakeFetch(problemResponse(503, 'stripe-rate-limited', { retryAfter: new Date(T0 - 60_000).toUTCString() }), sessionResponse());

    const created = createCustomerSessions({ fetch }).create(buyButton);
    await until(() => clock.delays.length === 1, 'the wait');

    assert.deepEqual(clock.delays, [0]);
    clock.tick(0);
    await created;
    assert.equal(fetch.calls.length, 2);
  });

  it('retries at most maxRetries times (default 2), then rejects with the last answer', async () => {
    const fetch = fakeFetch(
      problemResponse(429, 'rate-limited', { retryAfter: 1 }),
      problemResponse(503, 'stripe-busy', { retryAfter: 2 }),
      problemResponse(429, 'rate-limited', { retryAfter: 3, detail: 'third' }),
      sessionResponse(),
    );

    const created = createCustomerSessions({ fetch }).create(buyButton).catch((e) => e);
    await until(() => clock.delays.length === 1, 'the first wait');
    clock.tick(1000);
    await until(() => clock.delays.length === 2, 'the second wait');
    clock.tick(2000);
    const error = await created;

    assert.deepEqual(clock.delays, [1000, 2000]);
    assert.equal(fetch.calls.length, 3);
    assert.ok(error instanceof CustomerSessionError);
    assert.equal(error.status, 429);
    assert.equal(error.detail, 'third');
    assert.equal(error.retryAfterSeconds, 3);
  });

  it('maxRetries: 1 makes one retry; maxRetries: 0 none', async () => {
    const once = fakeFetch(problemResponse(429, 'rate-limited', { retryAfter: 1 }), problemResponse(429, 'rate-limited', { retryAfter: 1 }), sessionResponse());
    const created = createCustomerSessions({ fetch: once, maxRetries: 1 }).create(buyButton).catch((e) => e);
    await until(() => clock.delays.length === 1, 'the wait');
    clock.tick(1000);
    assert.equal((await created).status, 429);
    assert.equal(once.calls.length, 2);

    const never = fakeFetch(problemResponse(429, 'rate-limited', { retryAfter: 1 }), sessionResponse());
    await assert.rejects(createCustomerSessions({ fetch: never, maxRetries: 0 }).create(buyButton), { status: 429, retryAfterSeconds: 1 });
    assert.equal(never.calls.length, 1);
    assert.equal(clock.delays.length, 1, 'maxRetries: 0 scheduled no wait');
  });

  it('a Retry-After above maxRetryAfterSeconds is not waited for', async () => {
    const fetch = fakeFetch(problemResponse(429, 'rate-limited', { retryAfter: 11 }), sessionResponse());

    await assert.rejects(createCustomerSessions({ fetch }).create(buyButton), {
      status: 429,
      type: 'urn:bffsessions:problem:rate-limited',
      retryAfterSeconds: 11,
    });
    assert.equal(fetch.calls.length, 1);
    assert.deepEqual(clock.delays, []);
  });

  it('maxRetryAfterSeconds is inclusive and can be raised', async () => {
    const fetch = fakeFetch(problemResponse(503, 'database-unavailable', { retryAfter: 30 }), sessionResponse());

    const created = createCustomerSessions({ fetch, maxRetryAfterSeconds: 30 }).create(buyButton);
    await until(() => clock.delays.length === 1, 'the wait');
    clock.tick(30_000);
    await created;

    assert.deepEqual(clock.delays, [30_000]);
    assert.equal(fetch.calls.length, 2);
  });

  it('429 or 503 without Retry-After, or with an unreadable one, rejects at once', async () => {
    for (const retryAfter of [undefined, 'later']) {
      const fetch = fakeFetch(problemResponse(503, 'stripe-busy', { retryAfter }), sessionResponse());
      await assert.rejects(createCustomerSessions({ fetch }).create(buyButton), (error) => error.status === 503 && error.retryAfterSeconds === undefined);
      assert.equal(fetch.calls.length, 1);
    }
    assert.deepEqual(clock.delays, []);
  });

  it('other statuses are not retried, Retry-After or not', async () => {
    const fetch = fakeFetch(problemResponse(502, 'stripe-error', { retryAfter: 1 }), sessionResponse());

    await assert.rejects(createCustomerSessions({ fetch }).create(buyButton), { status: 502, retryAfterSeconds: 1 });
    assert.equal(fetch.calls.length, 1);
    assert.deepEqual(clock.delays, []);
  });

  it('an abort during the wait rejects with the signal\'s reason, clears the timer and fetches no more', async () => {
    const fetch = fakeFetch(problemResponse(429, 'rate-limited', { retryAfter: 5 }), sessionResponse());
    const controller = new AbortController();
    const reason = new Error('page left');

    const created = createCustomerSessions({ fetch }).create(buyButton, { signal: controller.signal }).catch((e) => e);
    await until(() => clock.delays.length === 1, 'the wait');
    clock.tick(2000);
    controller.abort(reason);

    assert.equal(await created, reason);
    assert.deepEqual(clock.cleared, clock.timers, 'the wait\'s timer was cleared');
    clock.tick(60_000);
    await settle();
    assert.equal(fetch.calls.length, 1);
  });

  it('an abort without a reason rejects with an AbortError', async () => {
    const fetch = fakeFetch(problemResponse(503, 'stripe-busy', { retryAfter: 1 }), sessionResponse());
    const controller = new AbortController();

    const created = createCustomerSessions({ fetch }).create(buyButton, { signal: controller.signal }).catch((e) => e);
    await until(() => clock.delays.length === 1, 'the wait');
    controller.abort();

    const error = await created;
    assert.equal(error.name, 'AbortError');
    clock.tick(1000);
    await settle();
    assert.equal(fetch.calls.length, 1);
  });

  it('a signal aborted before the call rejects without fetching', async () => {
    const fetch = fakeFetch(sessionResponse());
    const reason = new Error('already gone');

    await assert.rejects(createCustomerSessions({ fetch }).create(buyButton, { signal: AbortSignal.abort(reason) }), (error) => error === reason);
    assert.equal(fetch.calls.length, 0);
  });
});
