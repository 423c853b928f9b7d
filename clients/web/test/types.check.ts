// Compiled by `tsc --noEmit` (npm test), never run. Good shapes must compile; each `@ts-expect-error` line is a shape
// the service refuses with a 400, and fails the check if the declarations ever start to accept it.
// The import goes through the package's own name, so the "exports" map's types condition is checked too.
import {
  createCustomerSessions,
  CustomerSessionError,
  setElementSecret,
  updateElements,
  type Components,
  type CustomerSession,
  type CustomerSessions,
} from '@bffsessions/web';

// ---- Good shapes ----------------------------------------------------------------------------------------------

const everything: Components = {
  paymentElement: {
    enabled: true,
    features: {
      paymentMethodRedisplay: 'enabled',
      paymentMethodRedisplayLimit: 10,
      paymentMethodAllowRedisplayFilters: ['always', 'limited', 'unspecified'],
      paymentMethodSave: 'disabled',
      paymentMethodSaveUsage: 'off_session',
      paymentMethodRemove: 'enabled',
    },
  },
  pricingTable: { enabled: true },
  buyButton: { enabled: false },
  mobilePaymentElement: {
    enabled: true,
    features: {
      paymentMethodRedisplay: 'disabled',
      paymentMethodAllowRedisplayFilters: ['limited'],
      paymentMethodSave: 'enabled',
      paymentMethodSaveAllowRedisplayOverride: 'unspecified',
      paymentMethodRemove: 'disabled',
    },
  },
  customerSheet: {
    enabled: true,
    features: { paymentMethodAllowRedisplayFilters: ['unspecified', 'always'], paymentMethodRemove: 'enabled' },
  },
};

const minimal: Components = { pricingTable: { enabled: true } };
const noFeatures: Components = { paymentElement: { enabled: true, features: {} } };
const filters = ['limited', 'always'] as const;
const constFilters: Components = { customerSheet: { enabled: true, features: { paymentMethodAllowRedisplayFilters: filters } } };

const sessions: CustomerSessions = createCustomerSessions();
const configured = createCustomerSessions({
  baseUrl: 'https://pay.example.com',
  getAccessToken: async () => 'token',
  onSignInRequired: (loginUrl: string) => console.log(loginUrl),
  maxRetries: 0,
  maxRetryAfterSeconds: 5,
  fetch: globalThis.fetch,
});
createCustomerSessions({ getAccessToken: () => undefined });

async function usage(): Promise<void> {
  const controller = new AbortController();
  const session: CustomerSession = await sessions.create(minimal, { signal: controller.signal });
  const secret: string = session.clientSecret;
  const expires: Date = session.expiresAt;
  const customer: string | undefined = session.customerId;
  void [secret, expires, customer];

  await configured.keepFresh(everything, (s) => console.log(s.expiresAt.toISOString()), {
    signal: controller.signal,
    refreshBeforeSeconds: 120,
  });
  await sessions.keepFresh(noFeatures, async () => {}, {});
  await sessions.keepFresh(constFilters, updateElements({ update() {} }));
  await sessions.keepFresh(minimal, setElementSecret(document.createElement('stripe-pricing-table')));

  try {
    await sessions.create(minimal);
  } catch (error) {
    if (error instanceof CustomerSessionError) {
      const status: number = error.status;
      const type: string = error.type;
      const title: string = error.title;
      const detail: string | undefined = error.detail;
      const retryAfter: number | undefined = error.retryAfterSeconds;
      const problem: unknown = error.problem;
      const message: string = error.message;
      void [status, type, title, detail, retryAfter, problem, message];
    }
  }
}
void usage;

// ---- Shapes the service refuses -------------------------------------------------------------------------------

// @ts-expect-error enabled is a boolean, not a string
const enabledYes: Components = { pricingTable: { enabled: 'yes' } };

// @ts-expect-error every component sent needs enabled
const noEnabled: Components = { buyButton: {} };

// @ts-expect-error enabled is required next to features too
const featuresOnly: Components = { paymentElement: { features: { paymentMethodSave: 'enabled' } } };

// @ts-expect-error 'on' is not one of Stripe's values (enabled/disabled)
const unknownFeatureValue: Components = { paymentElement: { enabled: true, features: { paymentMethodRedisplay: 'on' } } };

// @ts-expect-error paymentMethodSaveUsage is off_session or on_session
const unknownUsage: Components = { paymentElement: { enabled: true, features: { paymentMethodSaveUsage: 'later' } } };

// @ts-expect-error 'never' is not an allow_redisplay value
const unknownOverride: Components = { mobilePaymentElement: { enabled: true, features: { paymentMethodSaveAllowRedisplayOverride: 'never' } } };

// @ts-expect-error 'sometimes' is not an allow_redisplay value
const unknownRedisplay: Components = { customerSheet: { enabled: true, features: { paymentMethodAllowRedisplayFilters: ['sometimes'] } } };

// @ts-expect-error the filters may not be empty
const emptyFilters: Components = { customerSheet: { enabled: true, features: { paymentMethodAllowRedisplayFilters: [] } } };

// @ts-expect-error each filter may appear only once
const repeatedFilter: Components = { paymentElement: { enabled: true, features: { paymentMethodAllowRedisplayFilters: ['always', 'always'] } } };

// @ts-expect-error the limit is a number, not a string
const limitAsString: Components = { paymentElement: { enabled: true, features: { paymentMethodRedisplayLimit: '3' } } };

// @ts-expect-error the limit is 1 to 10
const limitTooHigh: Components = { paymentElement: { enabled: true, features: { paymentMethodRedisplayLimit: 11 } } };

// @ts-expect-error the limit is 1 to 10
const limitZero: Components = { paymentElement: { enabled: true, features: { paymentMethodRedisplayLimit: 0 } } };

// @ts-expect-error no such component
const unknownComponent: Components = { checkout: { enabled: true } };

// @ts-expect-error no customer member: the customer is the signed-in user's
const customerMember: Components = { customer: 'cus_123', pricingTable: { enabled: true } };

// @ts-expect-error an unknown member of a component
const unknownMember: Components = { paymentElement: { enabled: true, layout: 'tabs' } };

// @ts-expect-error an unknown feature
const unknownFeature: Components = { paymentElement: { enabled: true, features: { paymentMethodSaveDefault: 'enabled' } } };

// @ts-expect-error the pricing table has no features
const plainWithFeatures: Components = { pricingTable: { enabled: true, features: {} } };

// @ts-expect-error a mobile-only feature on the Payment Element
const mobileFeatureOnWeb: Components = { paymentElement: { enabled: true, features: { paymentMethodSaveAllowRedisplayOverride: 'always' } } };

// @ts-expect-error snake_case is Stripe's form, not the service's JSON
const snakeCase: Components = { payment_element: { enabled: true } };

// @ts-expect-error keepFresh needs an onSecret
void sessions.keepFresh(minimal);

// @ts-expect-error maxRetries is a number
createCustomerSessions({ maxRetries: '2' });

void [
  enabledYes, noEnabled, featuresOnly, unknownFeatureValue, unknownUsage, unknownOverride, unknownRedisplay, emptyFilters,
  repeatedFilter, limitAsString, limitTooHigh, limitZero, unknownComponent, customerMember, unknownMember, unknownFeature,
  plainWithFeatures, mobileFeatureOnWeb, snakeCase,
];
