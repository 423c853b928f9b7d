// Test doubles: a fetch that answers from a script and records every call, and the service's answers.

/**
 * A fake fetch. Each answer is a Response, an Error (thrown, as a network failure), or a function of the call
 * (url, init) that returns either, or a promise of one. It records { url, init, headers, body } per call.
 * Like the real one, it rejects with the signal's reason when the signal is (or becomes) aborted.
 */
export function fakeFetch(...answers) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, init, headers: { ...init.headers }, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const signal = init.signal;
    if (signal?.aborted) throw signal.reason;
    let answer = answers.shift();
    if (answer === undefined) throw new Error(`fake fetch: no answer scripted for call ${calls.length}`);
    if (typeof answer === 'function') {
      const pending = Promise.resolve(answer(url, init));
      answer = signal
        ? await new Promise((resolve, reject) => {
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            pending.then(resolve, reject);
          })
        : await pending;
    }
    if (answer instanceof Error) throw answer;
    return answer;
  };
  fetch.calls = calls;
  return fetch;
}

export const T0 = Date.UTC(2026, 10, 26, 10, 0, 0);
export const MINUTE = 60_000;

/** The service's 200; `date` is its Date header (the service's clock), a Date or a string, none by default. */
export function sessionResponse({ clientSecret = 'cuss_secret_1', expiresAt = new Date(T0 + 30 * MINUTE), customerId, date } = {}) {
  const body = { clientSecret, expiresAt: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt };
  if (customerId !== undefined) body.customerId = customerId;
  const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  if (date !== undefined) headers.Date = date instanceof Date ? date.toUTCString() : date;
  return new Response(JSON.stringify(body), { status: 200, headers });
}

export function problemResponse(status, name, { title = `Problem ${name}`, detail, retryAfter, extra = {} } = {}) {
  const body = { type: `urn:bffsessions:problem:${name}`, title, status, traceId: '00-abc-def-01', ...extra };
  if (detail !== undefined) body.detail = detail;
  const headers = { 'Content-Type': 'application/problem+json' };
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return new Response(JSON.stringify(body), { status, headers });
}

/** Lets promises, and the body streams of real Responses, run until the condition holds (timers stay frozen). */
export async function until(condition, what = 'the condition') {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Lets pending promises settle, for asserting that something did NOT happen. */
export async function settle() {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * node:test's fake setTimeout and Date, starting at T0, plus a record of every timer set and cleared (the kit looks
 * setTimeout and clearTimeout up at call time, so the wrappers see its calls).
 */
export function fakeClock(mock) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const [fakeSet, fakeClear] = [globalThis.setTimeout, globalThis.clearTimeout];
  const delays = [];
  const timers = [];
  const cleared = [];
  globalThis.setTimeout = (callback, ms, ...rest) => {
    delays.push(ms);
    const timer = fakeSet(callback, ms, ...rest);
    timers.push(timer);
    return timer;
  };
  globalThis.clearTimeout = (timer) => {
    cleared.push(timer);
    fakeClear(timer);
  };
  return {
    /** The delay of every setTimeout, in order. */
    delays,
    /** The timers setTimeout returned, in order, and those passed to clearTimeout. */
    timers,
    cleared,
    tick: (ms) => mock.timers.tick(ms),
    restore() {
      globalThis.setTimeout = fakeSet;
      globalThis.clearTimeout = fakeClear;
      mock.timers.reset();
    },
  };
}

/** A browser-like `location` for the duration of one test. */
export function withLocation(pathname, search, assign = () => {}) {
  const had = Object.getOwnPropertyDescriptor(globalThis, 'location');
  Object.defineProperty(globalThis, 'location', { value: { pathname, search, assign }, configurable: true, writable: true });
  return () => {
    if (had) Object.defineProperty(globalThis, 'location', had);
    else delete globalThis.location;
  };
}
