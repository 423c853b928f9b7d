// The browser half of BffSessions: asks POST /api/customer-sessions for a Stripe Customer Session client secret
// and keeps one fresh. A plain ES module without dependencies or a build step: the service serves this very file
// at /bff/customer-sessions.js. Types: customer-sessions.d.ts (hand-written, next to this file).

const PATH = '/api/customer-sessions';
const PROBLEM = 'urn:bffsessions:problem:';
const INVALID_ANSWER = 'urn:bffsessions:client:invalid-answer';
const NO_ACCESS_TOKEN = 'urn:bffsessions:client:no-access-token';

// keepFresh never schedules the next mint sooner than this: with a session that lasts less than refreshBeforeSeconds
// (or a service whose clock is off), "refresh 60 s before expiry" lies in the past, and without a floor the loop would
// mint back to back. Ten seconds keeps even that case at 6 mints a minute, under the service's per-user limit.
const MIN_REFRESH_DELAY_MS = 10_000;
// setTimeout keeps its delay in a signed 32-bit integer: anything longer (about 24.8 days) fires at once, which
// a clock that runs far behind would turn into a hot loop.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A non-2xx answer (or an unusable 200), with the service's RFC 9457 problem. */
export class CustomerSessionError extends Error {
  constructor({ status, type, title, detail, retryAfterSeconds, problem }) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'CustomerSessionError';
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
    this.problem = problem;
  }
}

export function createCustomerSessions(options = {}) {
  const {
    baseUrl = '',
    getAccessToken,
    onSignInRequired = defaultSignIn,
    maxRetries = 2,
    maxRetryAfterSeconds = 10,
  } = options;
  // Called as a plain function, never as options.fetch(...): browsers throw "Illegal invocation" when their fetch
  // runs with another object as `this`. The default is looked up at call time so a later polyfill or test stub counts.
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  // 'https://api.example.com/' + '/api/…' would make '//api/…', a path the service does not have.
  const base = baseUrl.replace(/\/+$/, '');

  async function create(components, { signal } = {}) {
    return (await mint(components, signal)).session;
  }

  /** create's work; also says how long the session lasts by the service's clock, and when the answer came. */
  async function mint(components, signal) {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      // Asked on every attempt: a token can expire while a Retry-After is waited out.
      const token = getAccessToken ? await getAccessToken() : undefined;
      const bearer = typeof token === 'string' && token !== '';
      if (getAccessToken && !bearer) {
        // A bearer page without a token is signed out. Falling back to the cookie would mint for whoever the browser's
        // cookie belongs to, or send a bearer page to /bff/login and back, in a loop.
        throw new CustomerSessionError({
          status: 401,
          type: NO_ACCESS_TOKEN,
          title: 'No access token',
          detail: 'getAccessToken gave no token: the user must sign in.',
          problem: undefined,
        });
      }
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
      if (bearer) {
        headers.Authorization = `Bearer ${token}`;
      } else {
        // The cookie is HttpOnly and rides along by `credentials`; the custom header is what the service takes as
        // proof that a page it trusts sent the call (another site cannot add it without passing CORS).
        headers['X-CSRF'] = '1';
      }

      // Network errors (fetch throws) are not retried: they reject as they are.
      const response = await fetchImpl(`${base}${PATH}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ components }),
        // 'include' rather than 'same-origin' so a page on an origin listed in Cors:AllowedOrigins works too. A bearer
        // call needs no cookie: omitting it leaves the token as the only credential, whatever cookies the browser holds.
        credentials: bearer ? 'omit' : 'include',
        signal,
      });

      if (response.ok) {
        return readSession(response);
      }

      const error = await readProblem(response);
      // The abort may have landed while the body was read (readProblem shrugs off a body it cut short): a page that said
      // stop gets no sign-in redirect and no retry after it.
      throwIfAborted(signal);
      if (error.status === 401 && !bearer && error.type !== `${PROBLEM}csrf-header-missing`) {
        // A missing X-CSRF header is a bug in the page (or a proxy that strips it), not a signed-out user:
        // sending the user to sign in would bring them back to the same 401, in a loop.
        onSignInRequired(loginUrl(base));
      }
      if (
        (error.status === 429 || error.status === 503) &&
        error.retryAfterSeconds !== undefined &&
        error.retryAfterSeconds <= maxRetryAfterSeconds &&
        attempt < maxRetries
      ) {
        await delay(error.retryAfterSeconds * 1000, signal);
        continue;
      }
      throw error;
    }
  }

  async function keepFresh(components, onSecret, { signal, refreshBeforeSeconds = 60 } = {}) {
    if (!(Number.isFinite(refreshBeforeSeconds) && refreshBeforeSeconds >= 0)) {
      throw new RangeError(`refreshBeforeSeconds must be a number of seconds, 0 or more (got ${refreshBeforeSeconds}).`);
    }
    while (!signal?.aborted) {
      let minted;
      try {
        minted = await mint(components, signal);
      } catch (error) {
        // Stopping is not a failure: the in-flight fetch rejects with the abort, and keepFresh resolves.
        if (signal?.aborted) return;
        throw error;
      }
      // The abort may have landed while the answer was being read: hand the page nothing after it said stop.
      if (signal?.aborted) return;
      await onSecret(minted.session);
      // From the answer's arrival, by this clock, plus the lifetime by the service's: only a difference of this clock
      // counts, so one that is hours off neither renews non-stop nor lets the secret expire.
      const due = minted.receivedAt + minted.lifetimeMs - refreshBeforeSeconds * 1000 - Date.now();
      const wait = Math.min(Math.max(due, MIN_REFRESH_DELAY_MS), MAX_TIMER_DELAY_MS);
      try {
        await delay(wait, signal);
      } catch {
        return; // only an abort ends the wait early
      }
    }
  }

  return { create, keepFresh };
}

/** An onSecret for keepFresh: hands each renewed secret to a Stripe.js Elements group, without a remount. */
export function updateElements(elements) {
  return ({ clientSecret }) => {
    elements.update({ customerSessionClientSecret: clientSecret });
  };
}

/** An onSecret for keepFresh or create: sets the secret on a <stripe-pricing-table> or <stripe-buy-button>. */
export function setElementSecret(element) {
  return ({ clientSecret }) => {
    element.setAttribute('customer-session-client-secret', clientSecret);
  };
}

function defaultSignIn(url) {
  // No location (Node) or one that cannot navigate (a worker's): nothing to redirect, the 401 still rejects.
  if (typeof globalThis.location?.assign === 'function') globalThis.location.assign(url);
}

function loginUrl(base) {
  return `${base}/bff/login?returnUrl=${encodeURIComponent(returnUrl())}`;
}

/** This page's path and query if /bff/login takes them back; else its path alone; else the site's root. */
function returnUrl() {
  const location = globalThis.location;
  // Outside a browser (tests, server rendering) there is no page to come back to.
  if (!location) return '/';
  // Browsers leave | { } ^ ` as they are in a query string: escape what is outside RFC 3986, which the service reads
  // back as the same URL.
  const escape = (url) => url.replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/g, (c) => encodeURIComponent(c));
  return [location.pathname + location.search, location.pathname].map(escape).find(isPlainLocalPath) ?? '/';
}

/**
 * The service's rule for a returnUrl (ReturnUrls.IsPlainLocalPath, src/BffSessions.Api/Identity/ReturnUrls.cs), for a
 * URL already escaped to RFC 3986's characters: anything else is a 400 instead of a sign-in. A path on this site, at
 * most 2048 characters; in the path no empty or dot segments; and no escape of a control, a slash, a backslash or a %
 * anywhere (a query's "next=%2Fcheckout" too).
 */
function isPlainLocalPath(url) {
  if (url.length > 2048 || !/^\/(?![/\\])/.test(url)) return false;
  const path = url.split(/[?#]/, 1)[0];
  if (/\/\/|%2e|\/\.\.?(\/|$)/i.test(path)) return false;
  return (url.match(/%.{0,2}/g) ?? []).every((escaped) => /^%[0-9A-F]{2}$/i.test(escaped) && !/^%([01].|7F|2F|5C|25)$/i.test(escaped));
}

async function readSession(response) {
  const receivedAt = Date.now();
  const body = parseJson(await response.text());
  const expiresAt = typeof body?.expiresAt === 'string' ? new Date(body.expiresAt) : undefined;
  if (typeof body?.clientSecret !== 'string' || body.clientSecret === '' || !expiresAt || Number.isNaN(expiresAt.getTime())) {
    // The body is not kept in `problem`: it may hold a client secret, and errors end up in logs and trackers.
    throw new CustomerSessionError({
      status: response.status,
      type: INVALID_ANSWER,
      title: 'The service answered without a usable customer session',
      detail: 'Expected a string clientSecret and an ISO 8601 expiresAt.',
      problem: undefined,
    });
  }
  const session = { clientSecret: body.clientSecret, expiresAt };
  if (typeof body.customerId === 'string') session.customerId = body.customerId;
  // expiresAt is on the service's clock (Stripe's), and so is the answer's Date header. Without one (a page on another
  // origin that the service does not expose it to), this clock is all there is.
  const serverNow = Date.parse(response.headers.get('Date') ?? '');
  return { session, receivedAt, lifetimeMs: expiresAt.getTime() - (Number.isNaN(serverNow) ? receivedAt : serverNow) };
}

async function readProblem(response) {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // A body cut off mid-way still leaves the status and headers to go on.
  }
  const parsed = parseJson(text);
  const problem = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : undefined;
  return new CustomerSessionError({
    status: response.status,
    // RFC 9457: a problem without a type is about:blank, whose title is the status's own phrase.
    type: typeof problem?.type === 'string' ? problem.type : 'about:blank',
    // HTTP/2 has no reason phrase, so statusText is '' there: fall back to the number.
    title: typeof problem?.title === 'string' ? problem.title : response.statusText || `HTTP ${response.status}`,
    detail: typeof problem?.detail === 'string' ? problem.detail : undefined,
    retryAfterSeconds: parseRetryAfter(response.headers.get('Retry-After')),
    problem,
  });
}

/** Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
function parseRetryAfter(value) {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function parseJson(text) {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function abortReason(signal) {
  // Older browsers have no signal.reason; fetch itself rejects with an AbortError there.
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function throwIfAborted(signal) {
  if (signal?.aborted) throw abortReason(signal);
}

/** setTimeout as a promise that the signal cancels: the timer is cleared and the promise rejects with the reason. */
function delay(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      // keepFresh waits on the same signal once per renewal: without this, a page left open for days would pile up
      // one dead listener per secret.
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
