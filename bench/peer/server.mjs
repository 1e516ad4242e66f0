// The benchmark peer: panva's `oidc-provider` set up for DPoP-bound refresh-token
// rotation of a public client, plus a seeding route for the load harness.
// See README.md for the request contract.
//
//   PORT=8123 node server.mjs      ->  prints "peer ready http://127.0.0.1:8123"

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const port = Number.parseInt(process.env.PORT ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('server.mjs: set PORT to the TCP port to listen on (e.g. PORT=8123)');
  process.exit(2);
}

const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${port}`;
const CLIENT_ID = 'bench';
const SCOPE = 'openid offline_access';
// Access tokens are JWTs (RFC 9068 shape, ES256, `cnf.jkt`) for this resource server.
const RESOURCE = 'urn:devicelink:bench';
const RESOURCE_SCOPE = 'bench';
const JKT = /^[A-Za-z0-9_-]{43}$/; // base64url SHA-256, no padding

// One EC P-256 signing key, made at start (ID tokens and JWT access tokens).
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  alg: 'ES256',
  use: 'sig',
  kid: randomBytes(8).toString('hex'),
};

// In-memory storage: the stock memory adapter of oidc-provider 8 with a plain Map
// instead of its 1000-entry LRU, which would evict seeded grants and refresh tokens
// under load. Nothing is written to disk; expiry is checked on read.
const store = new Map();
const grantIndex = new Map(); // grantId -> keys of tokens of that grant

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const { grantId } = payload;
    if (grantId && this.model !== 'Grant') {
      const keys = grantIndex.get(grantId);
      if (keys) keys.push(key);
      else grantIndex.set(grantId, [key]);
    }
    store.set(key, { payload, until: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  }

  async find(id) {
    const key = this.key(id);
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.until <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid() {
    return undefined; // sessions are not used by the benchmark
  }

  async findByUserCode() {
    return undefined; // device flow is not enabled
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantIndex.get(grantId) ?? []) store.delete(key);
    grantIndex.delete(grantId);
  }
}

const DAY = 24 * 60 * 60;

const provider = new Provider(ISSUER, {
  adapter: MapAdapter,
  clients: [{
    client_id: CLIENT_ID,
    application_type: 'native', // a mobile app
    token_endpoint_auth_method: 'none', // public client
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/cb'],
    dpop_bound_access_tokens: true,
    id_token_signed_response_alg: 'ES256',
  }],
  clientDefaults: {
    id_token_signed_response_alg: 'ES256',
  },
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', RESOURCE_SCOPE],
  claims: { openid: ['sub'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id };
      },
    };
  },
  // Every refresh consumes the presented token and returns a new one. (The default
  // policy does NOT rotate sender-constrained refresh tokens of public clients.)
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  enabledJWA: {
    dPoPSigningAlgValues: ['ES256'],
    idTokenSigningAlgValues: ['ES256'],
  },
  features: {
    devInteractions: { enabled: false },
    // RFC 9449 without server nonces (no nonceSecret, requireNonce -> false);
    // the proof's `jti` is checked for replay (allowReplay: false, the default).
    dPoP: { enabled: true, requireNonce: () => false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource) => {
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: RESOURCE_SCOPE,
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: 300,
    AuthorizationCode: 60,
    ClientCredentials: 300,
    IdToken: 300,
    Interaction: 3600,
    Session: 14 * DAY,
    Grant: 14 * DAY,
    RefreshToken: 14 * DAY,
  },
});

async function readJson(req, limit = 4096) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// POST /bench/seed {"jkt": "<RFC 7638 thumbprint>"} -> {"refresh_token": "..."}:
// a new account and grant, and a refresh token bound to that key, as the
// authorization_code grant would have issued it to this public client with DPoP.
// Optional "scope" in the body (default "openid offline_access"); without
// "openid" no ID token is issued on refresh.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/seed') return next();
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    ctx.set('Allow', 'POST');
    return undefined;
  }
  let body;
  try {
    body = await readJson(ctx.req);
  } catch {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'body must be JSON' };
    return undefined;
  }
  const jkt = body?.jkt;
  const scope = body?.scope ?? SCOPE;
  if (typeof jkt !== 'string' || !JKT.test(jkt)
    || typeof scope !== 'string' || !scope.split(' ').includes('offline_access')) {
    ctx.status = 400;
    ctx.body = {
      error: 'invalid_request',
      error_description: 'expected {"jkt": "<base64url SHA-256 JWK thumbprint>"} (scope, if given, must include offline_access)',
    };
    return undefined;
  }

  const client = await provider.Client.find(CLIENT_ID);
  const accountId = randomUUID();
  const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
  grant.addOIDCScope(scope);
  grant.addResourceScope(RESOURCE, RESOURCE_SCOPE);
  const grantId = await grant.save();

  const refreshToken = new provider.RefreshToken({
    accountId,
    authTime: Math.floor(Date.now() / 1000),
    client,
    grantId,
    gty: 'authorization_code',
    resource: RESOURCE,
    rotations: 0,
    scope: `${scope} ${RESOURCE_SCOPE}`,
    jkt,
  });
  ctx.status = 200;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { refresh_token: await refreshToken.save() };
  return undefined;
});

// For the smoke test: the reason of a refused token request in an `x-error-detail`
// response header (oidc-provider only answers a generic error_description).
if (process.env.PEER_ERROR_DETAIL === '1') {
  provider.on('grant.error', (ctx, err) => {
    if (err.error_detail) ctx.set('x-error-detail', err.error_detail);
  });
}

const server = provider.listen(port, HOST, () => {
  process.stdout.write(`peer ready ${ISSUER}\n`);
});
server.keepAliveTimeout = 65_000;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
