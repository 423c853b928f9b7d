// Minimal, real OpenID Connect provider for the BffSessions browser end-to-end tests and the compose demo.
// Built on `oidc-provider` (panva). Everything is in memory and regenerated on every start
// (signing key, cookie keys, sessions, grants). See README.md for the environment variables.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';

import Provider from 'oidc-provider';

// oidc-provider prints development NOTICEs with console.info (i.e. to stdout). stdout is reserved
// for the single `READY <issuer>` line, so route every other console output to stderr.
const toStderr = (...args) => console.error(...args);
console.info = toStderr;
console.log = toStderr;
console.debug = toStderr;

function requireEnv(name) {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    console.error(`oidc-provider test server: missing required environment variable ${name}`);
    process.exit(2);
  }
  return value.trim();
}

const portText = requireEnv('OIDC_PORT');
const port = Number(portText);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`oidc-provider test server: OIDC_PORT must be an integer in 1..65535, got "${portText}"`);
  process.exit(2);
}
// Optional: the address to listen on. Loopback by default; the compose demo's container listens on 0.0.0.0 so that
// the published port reaches it (the issuer stays http://localhost:<port> for the browser and the API alike).
const host = process.env.OIDC_HOST?.trim() || '127.0.0.1';
const clientId = requireEnv('OIDC_CLIENT_ID');
const clientSecret = requireEnv('OIDC_CLIENT_SECRET');
const redirectUri = requireEnv('OIDC_REDIRECT_URI');
const postLogoutRedirectUri = requireEnv('OIDC_POST_LOGOUT_REDIRECT_URI');
// Optional: skip the consent page (grant openid/profile/email automatically). Off by default.
const autoConsent = /^(1|true|yes)$/i.test(process.env.OIDC_AUTO_CONSENT ?? '');
// Optional: the client's back-channel logout URI, e.g. http://localhost:5123/bff/backchannel. When set, the provider
// puts the session's sid into ID tokens and posts a logout_token there when the user signs out at the provider.
const backchannelLogoutUri = process.env.OIDC_BACKCHANNEL_LOGOUT_URI?.trim() || undefined;
// Optional: claims for particular logins, as JSON ({"<login>": {"name": "...", "email": "..."}}), laid over the default
// ones: how the tests give a user the over-long or malformed claims a real provider may send.
const accountClaims = JSON.parse(process.env.OIDC_ACCOUNT_CLAIMS?.trim() || '{}');

const issuer = `http://localhost:${port}`;
const supportedScopes = ['openid', 'profile', 'email'];

// Fresh RS256 signing key per process (published at /jwks).
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'RS256',
  use: 'sig',
};

// Any login is accepted by the dev interactions; the typed login becomes the account id (sub).
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims(_use, _scope, _claims, _rejected) {
      return {
        sub: id,
        email: `${id}@example.com`,
        email_verified: true,
        name: `User ${id}`,
        ...(accountClaims[id] ?? {}),
        sub: id,
      };
    },
  };
}

// Default RP-initiated logout page asks "Do you want to sign-out from ...?". For the tests we
// auto-confirm it ("Yes, sign me out" = logout=yes, which ends the whole provider session).
// The visible button keeps the original name/value, so it still works without JavaScript.
async function logoutSource(ctx, form) {
  ctx.body = `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Logout Request</title>
</head>
<body>
  <h1>Signing out&hellip;</h1>
  ${form}
  <button id="op-logout-confirm" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
  <script>
    (function () {
      var form = document.getElementById('op.logoutForm');
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = 'logout';
      input.value = 'yes';
      form.appendChild(input);
      form.submit();
    })();
  </script>
</body>
</html>`;
}

async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId
    || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) {
    return ctx.oidc.provider.Grant.find(grantId);
  }
  if (autoConsent && ctx.oidc.client.clientId === clientId) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(supportedScopes.join(' '));
    await grant.save();
    return grant;
  }
  return undefined;
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutRedirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // What the ASP.NET Core OpenIdConnect handler does by default (secret in the POST body).
      // oidc-provider accepts a secret in the body OR in an HTTP Basic header for clients
      // registered with either client_secret_post or client_secret_basic.
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
      ...(backchannelLogoutUri === undefined ? {} : {
        backchannel_logout_uri: backchannelLogoutUri,
        backchannel_logout_session_required: true,
      }),
    },
  ],
  // oidc-provider hands every outgoing request an undici dispatcher that refuses loopback and private addresses (its
  // SSRF guard). The client under test is on loopback: drop the guard for its back-channel URI, and for nothing else.
  fetch: (url, options) => {
    if (backchannelLogoutUri !== undefined && String(url) === new URL(backchannelLogoutUri).href) {
      // Without the guard, a redirect from there could lead anywhere: follow none.
      const { dispatcher: _ssrfGuard, ...unguarded } = options;
      return globalThis.fetch(url, { ...unguarded, redirect: 'manual' });
    }
    return globalThis.fetch(url, options);
  },
  clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
  responseTypes: ['code'],
  // v9 only implements S256; make PKCE mandatory for every client (default: public clients only).
  pkce: { required: () => true },
  scopes: supportedScopes,
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  // Put scope-granted claims (email, name, ...) into the ID Token, not only into /me.
  conformIdTokenClaims: false,
  findAccount,
  loadExistingGrant,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
    backchannelLogout: { enabled: backchannelLogoutUri !== undefined },
    userinfo: { enabled: true },
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 300,
    IdToken: 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
  },
};

const provider = new Provider(issuer, configuration);

for (const event of [
  'server_error',
  'authorization.error',
  'grant.error',
  'end_session.error',
  'backchannel.error',
  'userinfo.error',
  'discovery.error',
  'jwks.error',
  'introspection.error',
  'revocation.error',
]) {
  provider.on(event, (ctx, err) => {
    const where = ctx?.method && ctx?.path ? ` ${ctx.method} ${ctx.path}` : '';
    // Protocol errors (4xx: invalid_grant, invalid_request, ...) get one line; real failures a stack.
    const text = err?.expose && err?.error
      ? `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`
      : (err?.stack ?? String(err));
    console.error(`oidc-provider ${event}${where}: ${text}`);
  });
}

const server = createServer(provider.callback());

server.on('error', (err) => {
  console.error(`oidc-provider test server: ${err.stack ?? err}`);
  process.exit(1);
});

server.listen(port, host, () => {
  process.stdout.write(`READY ${issuer}\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`oidc-provider test server: ${signal} received, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

process.on('unhandledRejection', (err) => {
  console.error(`oidc-provider test server: unhandled rejection: ${err?.stack ?? err}`);
});
