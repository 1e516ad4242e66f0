// The eAccess test peer: panva's `oidc-provider` (OpenID Certified), unmodified, set up
// only through its documented configuration object, standing in for eAccess. Its claim
// behaviour is the library's default: with response_type=code the profile, email and
// eaccess claims come from userinfo only, and `auth_time` is in the ID token only when
// the request asks for it (max_age, prompt=login). See README.md.
//
//   EACCESS_PEER_ISSUER=http://127.0.0.1:8481 EACCESS_PEER_CLIENT_ID=devicelink \
//   EACCESS_PEER_CLIENT_SECRET=secret \
//   EACCESS_PEER_REDIRECT_URIS=http://127.0.0.1:8080/auth/eaccess/callback node server.mjs
//   -> prints "eaccess-peer listening on http://127.0.0.1:8481"
//
// Port 0 in the issuer picks a free port; the line then names the real issuer.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

function fail(message) {
  console.error(`eaccess-peer: ${message}`);
  process.exit(2);
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`set ${name} (see README.md)`);
  return value;
}

function uriList(name, value) {
  const list = (value ?? '').split(/\s+/).filter(Boolean);
  for (const uri of list) {
    try {
      new URL(uri); // eslint-disable-line no-new
    } catch {
      fail(`${name}: \`${uri}\` is not an absolute URL`);
    }
  }
  return list;
}

// --- settings ------------------------------------------------------------------------

const issuerSetting = required('EACCESS_PEER_ISSUER');
let issuerUrl;
try {
  issuerUrl = new URL(issuerSetting);
} catch {
  fail(`EACCESS_PEER_ISSUER: \`${issuerSetting}\` is not a URL`);
}
// The routes live at the root of the origin (no mounting): an issuer with a path or a
// trailing slash would not match the discovery document devicelink compares it with.
if (issuerUrl.protocol !== 'http:' || issuerUrl.pathname !== '/' || issuerSetting.endsWith('/')
  || issuerUrl.search || issuerUrl.hash || !issuerUrl.port) {
  fail('EACCESS_PEER_ISSUER must be http://HOST:PORT, no path, no trailing slash (port 0: any free port)');
}

const CLIENT_ID = required('EACCESS_PEER_CLIENT_ID');
const CLIENT_SECRET = required('EACCESS_PEER_CLIENT_SECRET');
const REDIRECT_URIS = uriList('EACCESS_PEER_REDIRECT_URIS', required('EACCESS_PEER_REDIRECT_URIS'));
const POST_LOGOUT_URIS = uriList('EACCESS_PEER_POST_LOGOUT_URIS', process.env.EACCESS_PEER_POST_LOGOUT_URIS);

// Optional switches, all off by default so that the peer behaves as oidc-provider does
// out of the box.
const ID_TOKEN_ALG = process.env.EACCESS_PEER_ID_TOKEN_ALG || 'RS256'; // OIDC's default
const USERINFO_ALG = process.env.EACCESS_PEER_USERINFO_ALG || ''; // '' = plain JSON userinfo
const CLAIMS_PARAMETER = process.env.EACCESS_PEER_CLAIMS_PARAMETER === '1';
const SKIP_CONSENT = process.env.EACCESS_PEER_SKIP_CONSENT === '1';
const SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA']; // oidc-provider's enabled defaults
for (const [name, alg] of [['EACCESS_PEER_ID_TOKEN_ALG', ID_TOKEN_ALG], ['EACCESS_PEER_USERINFO_ALG', USERINFO_ALG]]) {
  if (alg && !SIGNING_ALGS.includes(alg)) fail(`${name} must be one of ${SIGNING_ALGS.join(', ')}`);
}

// --- the account fixture -----------------------------------------------------------------

// Any login name is an account (devInteractions accepts any login and password, so
// findAccount must answer for every name). The name is `<person>` or `<person>+<product>`:
// the person decides `sub` and the names, so one citizen keeps one `sub` across products
// as at eAccess; the suffix decides the product. The four people of the bundled mock keep
// its `sub`s and names; any other person gets a `sub` derived from the name.
const PEOPLE = {
  marie: { sub: 'eaccess-5f1c0a37-8e2d-4b6a-9c41-7d0e2f8a1b93', given_name: 'Marie', family_name: 'Schmit' },
  jean: { sub: 'eaccess-9a2b7c4d-1e3f-4a5b-8c6d-0e1f2a3b4c5d', given_name: 'Jean', family_name: 'Weber' },
  sophie: { sub: 'eaccess-3c8e1f62-7b4a-4d09-b5e2-6a1f0c9d8e74', given_name: 'Sophie', family_name: 'Muller' },
  luc: { sub: 'eaccess-7e4d2b19-c6a8-4f3e-a1d5-2b9c8e7f6a05', given_name: 'Luc', family_name: 'Hoffmann' },
};
// Suffix -> [the `eaccess_product` value, as devicelink's ProductKind parses it
// (src/accounts), serial prefix]. The kind itself works as suffix too (`marie+eid_card`).
const PRODUCTS = {
  mobile: ['luxtrust_mobile', 'LTM'],
  scan: ['luxtrust_scan', 'LTS'],
  token: ['luxtrust_token', 'LTT'],
  eid: ['eid_card', 'EID'],
};

function person(name) {
  if (PEOPLE[name]) return PEOPLE[name];
  const digest = createHash('sha256').update(name).digest('hex');
  return {
    sub: `eaccess-peer-${digest.slice(0, 32)}`,
    given_name: name[0].toUpperCase() + name.slice(1),
    family_name: 'Peer',
  };
}

function product(suffix) {
  return PRODUCTS[suffix]
    ?? Object.values(PRODUCTS).find(([kind]) => kind === suffix)
    // Anything else is passed on as it is (`marie+card` -> "card"): a product devicelink
    // does not know, for tests of its refusal.
    ?? [suffix, 'UNKNOWN'];
}

// `accountId` is the login name as typed (oidc-provider keys sessions and grants by it);
// `sub` is the person's.
async function findAccount(ctx, accountId) {
  const plus = accountId.indexOf('+');
  const name = (plus < 0 ? accountId : accountId.slice(0, plus)).trim().toLowerCase() || 'nobody';
  const suffix = plus < 0 ? 'mobile' : accountId.slice(plus + 1).trim().toLowerCase();
  const { sub, given_name, family_name } = person(name);
  const [kind, prefix] = product(suffix);
  return {
    accountId,
    // All of them, always: oidc-provider itself filters by scope, claims request and
    // destination (ID token or userinfo).
    async claims() {
      return {
        sub,
        name: `${given_name} ${family_name}`,
        given_name,
        family_name,
        email: `${name.replace(/[^a-z0-9.-]/g, '-')}@example.lu`,
        email_verified: true,
        eaccess_product: kind,
        eaccess_product_serial: `${prefix}-${name}`,
      };
    },
  };
}

// --- keys ------------------------------------------------------------------------------

// One key per key type, new at every start (a test peer has no state to keep). No `alg`
// on the JWKs, so the RSA key serves both RS256 and PS256.
function signingKey(type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', kid: `${type}-${randomBytes(6).toString('hex')}` };
}
const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }),
    signingKey('ec', { namedCurve: 'P-256' }),
    signingKey('ed25519'),
  ],
};

// --- the provider -------------------------------------------------------------------------

// Consent skipped (EACCESS_PEER_SKIP_CONSENT=1): a grant of everything the one client
// asks for, as oidc-provider's documented `loadExistingGrant` recipe for first-party
// clients does. Otherwise the library's default: reuse the session's grant, else ask.
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!SKIP_CONSENT || oidc.client.clientId !== CLIENT_ID) return existing;
  const grant = existing ?? new oidc.provider.Grant({ clientId: CLIENT_ID, accountId: oidc.session.accountId });
  grant.addOIDCScope(oidc.params.scope);
  if (oidc.claims?.id_token) grant.addOIDCClaims(Object.keys(oidc.claims.id_token));
  if (oidc.claims?.userinfo) grant.addOIDCClaims(Object.keys(oidc.claims.userinfo));
  await grant.save();
  return grant;
}

function configuration() {
  return {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      post_logout_redirect_uris: POST_LOGOUT_URIS,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: ID_TOKEN_ALG,
      ...(USERINFO_ALG ? { userinfo_signed_response_alg: USERINFO_ALG } : {}),
    }],
    jwks,
    // Signed cookies need keys (oidc-provider warns without them). Dev-only and fixed:
    // a test peer has nothing to protect. Never a secret.
    cookies: { keys: ['eaccess-peer-dev-only-cookie-key-not-a-secret'] },
    findAccount,
    // Added to the defaults (openid: sub; acr, sid, auth_time, iss); each key is a scope.
    claims: {
      profile: ['name', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
      eaccess: ['eaccess_product', 'eaccess_product_serial'],
    },
    loadExistingGrant,
    features: {
      devInteractions: { enabled: true }, // the default, said out loud: tests post its forms
      claimsParameter: { enabled: CLAIMS_PARAMETER },
      jwtUserinfo: { enabled: Boolean(USERINFO_ALG) },
      rpInitiatedLogout: { enabled: true }, // the default too: end_session_endpoint
    },
    // `iss` in the authorization response (RFC 9207) needs no switch: oidc-provider 8
    // always adds it and advertises authorization_response_iss_parameter_supported.
  };
}

// Bind first, so that port 0 can be resolved before the issuer is fixed.
const server = createServer();
server.keepAliveTimeout = 5_000;
server.listen(Number(issuerUrl.port), issuerUrl.hostname, () => {
  const { port } = server.address();
  const issuer = `http://${issuerUrl.hostname}:${port}`;
  const provider = new Provider(issuer, configuration());

  // One line per refusal on stderr: what a failing integration test needs to see.
  const report = (event) => (ctx, err) => {
    const detail = err.error_detail ? ` (${err.error_detail})` : '';
    console.error(`eaccess-peer: ${event}: ${err.error ?? err.name}: ${err.error_description ?? err.message}${detail}`);
  };
  for (const event of ['authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'server_error']) {
    provider.on(event, report(event));
  }

  server.on('request', provider.callback());
  console.log(`eaccess-peer listening on ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // keep-alive connections of the test's HTTP clients
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
