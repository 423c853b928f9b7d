// Hand-written types for customer-sessions.js. The request types mirror the service's validator
// (src/BffSessions.Api/CustomerSessions/CustomerSessionRequestValidator.cs) and Stripe's enum strings, so a request
// the service would refuse with a 400 does not compile. test/types.check.ts holds them to that.

/** Stripe's switch for most features. */
export type EnabledDisabled = 'enabled' | 'disabled';

/** Stripe's allow_redisplay values of a saved payment method. */
export type AllowRedisplay = 'always' | 'limited' | 'unspecified';

/** A non-empty list of distinct AllowRedisplay values, in any order. */
export type AllowRedisplayFilters =
  | readonly ['always']
  | readonly ['limited']
  | readonly ['unspecified']
  | readonly ['always', 'limited']
  | readonly ['always', 'unspecified']
  | readonly ['limited', 'always']
  | readonly ['limited', 'unspecified']
  | readonly ['unspecified', 'always']
  | readonly ['unspecified', 'limited']
  | readonly ['always', 'limited', 'unspecified']
  | readonly ['always', 'unspecified', 'limited']
  | readonly ['limited', 'always', 'unspecified']
  | readonly ['limited', 'unspecified', 'always']
  | readonly ['unspecified', 'always', 'limited']
  | readonly ['unspecified', 'limited', 'always'];

/** How many saved payment methods the Payment Element shows: an integer from 1 to 10 (Stripe's default is 3). */
export type PaymentMethodRedisplayLimit = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export interface PaymentElementFeatures {
  paymentMethodRedisplay?: EnabledDisabled;
  paymentMethodRedisplayLimit?: PaymentMethodRedisplayLimit;
  paymentMethodAllowRedisplayFilters?: AllowRedisplayFilters;
  paymentMethodSave?: EnabledDisabled;
  paymentMethodSaveUsage?: 'off_session' | 'on_session';
  paymentMethodRemove?: EnabledDisabled;
}

export interface MobilePaymentElementFeatures {
  paymentMethodRedisplay?: EnabledDisabled;
  paymentMethodAllowRedisplayFilters?: AllowRedisplayFilters;
  paymentMethodSave?: EnabledDisabled;
  paymentMethodSaveAllowRedisplayOverride?: AllowRedisplay;
  paymentMethodRemove?: EnabledDisabled;
}

export interface CustomerSheetFeatures {
  paymentMethodAllowRedisplayFilters?: AllowRedisplayFilters;
  paymentMethodRemove?: EnabledDisabled;
}

/** The pricing table and the buy button: Stripe defines no features for them (a `features` member is a 400). */
export interface PlainComponent {
  enabled: boolean;
}

export interface PaymentElementComponent {
  enabled: boolean;
  features?: PaymentElementFeatures;
}

export interface MobilePaymentElementComponent {
  enabled: boolean;
  features?: MobilePaymentElementFeatures;
}

export interface CustomerSheetComponent {
  enabled: boolean;
  features?: CustomerSheetFeatures;
}

/**
 * The components the page is about to mount. Every component sent needs `enabled`; at least one must be
 * `enabled: true` (the service checks that one: a 400 `invalid-request`). There is no customer member: the customer
 * is the signed-in user's.
 */
export interface Components {
  paymentElement?: PaymentElementComponent;
  pricingTable?: PlainComponent;
  buyButton?: PlainComponent;
  mobilePaymentElement?: MobilePaymentElementComponent;
  customerSheet?: CustomerSheetComponent;
}

export interface CustomerSession {
  /** Single-use, lasts 30 minutes: hand it to Stripe.js, never store, log or show it. */
  clientSecret: string;
  expiresAt: Date;
  /** Only when mobilePaymentElement or customerSheet is enabled: Stripe's mobile SDKs need it with the secret. */
  customerId?: string;
}

export interface CustomerSessionsOptions {
  /** Where the service is; '' (the default) is this page's origin. A trailing slash is ignored. */
  baseUrl?: string;
  /**
   * Bearer mode: `Authorization: Bearer …`, no cookie, no redirect on 401. Asked before every attempt. When it gives
   * no token (undefined or ''), the call rejects with a CustomerSessionError, status 401, type
   * `urn:bffsessions:client:no-access-token`, without asking the service, sending the cookie or calling
   * onSignInRequired: signing in is the page's to do. Without this function, cookie mode.
   */
  getAccessToken?: () => string | undefined | Promise<string | undefined>;
  /**
   * Cookie mode, on a 401 (other than `csrf-header-missing`): called with `${baseUrl}/bff/login?returnUrl=<this page>`
   * before the promise rejects. The return URL is the page's path and query, or its path alone (or `/`) when /bff/login
   * would refuse them (say, a query holding `%2F`). Default: `location.assign(loginUrl)`.
   */
  onSignInRequired?: (loginUrl: string) => void;
  /** How many times a 429 or 503 with a short enough Retry-After is retried. Default 2. */
  maxRetries?: number;
  /** A longer Retry-After is not waited for: the call rejects at once. Default 10. */
  maxRetryAfterSeconds?: number;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

export interface CreateInit {
  /** Aborts the request and any Retry-After wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface KeepFreshInit {
  /** Stops the loop: keepFresh then resolves and calls onSecret no more. */
  signal?: AbortSignal;
  /**
   * How long before expiresAt the next session is minted: a finite number, 0 or more (anything else rejects with a
   * RangeError). Default 60. Counted by the service's clock (the answer's Date header), so a browser clock that is off
   * does not matter.
   */
  refreshBeforeSeconds?: number;
}

export interface CustomerSessions {
  /** Mints one session. Rejects with a CustomerSessionError for any non-2xx, or with fetch's own error. */
  create(components: Components, init?: CreateInit): Promise<CustomerSession>;
  /**
   * Mints a session, awaits onSecret with it, and mints the next one refreshBeforeSeconds before it expires (never
   * sooner than 10 s later), until the signal aborts: then it resolves. It rejects with the first error of a mint or
   * of onSecret, and mints no more: the caller decides whether to start again.
   */
  keepFresh(
    components: Components,
    onSecret: (session: CustomerSession) => void | Promise<void>,
    init?: KeepFreshInit,
  ): Promise<void>;
}

export function createCustomerSessions(options?: CustomerSessionsOptions): CustomerSessions;

/** A non-2xx answer, built from its RFC 9457 problem; a 200 without a usable session; or no access token to send. */
export class CustomerSessionError extends Error {
  constructor(init: {
    status: number;
    type: string;
    title: string;
    detail?: string;
    retryAfterSeconds?: number;
    problem: unknown;
  });
  name: 'CustomerSessionError';
  /** The HTTP status. */
  status: number;
  /**
   * The problem's type: `urn:bffsessions:problem:<name>` (unauthorized, rate-limited, stripe-busy, …),
   * `about:blank` when the body was no problem (say, a proxy's), `urn:bffsessions:client:invalid-answer` for an
   * unusable 200, `urn:bffsessions:client:no-access-token` (status 401, nothing sent) when getAccessToken gave no token.
   */
  type: string;
  title: string;
  detail?: string;
  /** From the Retry-After header (seconds, or an HTTP date turned into seconds from now). */
  retryAfterSeconds?: number;
  /** The whole parsed problem body (with traceId, errors, …); undefined when the body was empty or not JSON. */
  problem: unknown;
}

/** The Stripe.js Elements group method this kit calls. */
export interface UpdatableElements {
  update(options: { customerSessionClientSecret: string }): unknown;
}

/** An onSecret that passes each renewed secret to `elements.update({ customerSessionClientSecret })`. */
export function updateElements(elements: UpdatableElements): (session: CustomerSession) => void;

/**
 * An onSecret that sets the `customer-session-client-secret` attribute of a `<stripe-pricing-table>` or
 * `<stripe-buy-button>`. Mint a session per render (the pricing table gives 30 minutes to render it); never cache.
 */
export function setElementSecret(element: Pick<Element, 'setAttribute'>): (session: CustomerSession) => void;
