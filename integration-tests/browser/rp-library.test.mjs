// An unmodified, OpenID-certified relying-party library (panva's openid-client, pinned in
// package-lock.json) drives devicelink's OpenID provider end to end (issue #17): discovery,
// authorization URL, callback, code exchange, ID token and userinfo checks are the library's;
// the browser (chromium, as in the other files) signs marie in at the mock eAccess.
//
// Six registered portals, one per feature: client_secret_basic with the default ID token alg
// (RS256), a public client with PKCE, private_key_jwt, PAR, DPoP, and back-channel logout to a
// receiver in this file. The contract is docs/oidc-provider.md plus issue #17's additions.
//
// It starts its own `devicelink demo` (ports 8280/8281, a fresh directory) so that the demo
// run.sh starts on 8080/8081 is not disturbed and the clients can be configured freely.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import * as jose from 'jose';

import { loginAtMock, openBrowser, prepareScreenshots, stepper, visibleText } from './harness.mjs';

const DEVICELINK_BIN = process.env.DEVICELINK_BIN;
const ISSUER = 'http://127.0.0.1:8280';
const MOCK = 'http://127.0.0.1:8281';
const BACKCHANNEL_WAIT_MS = Number(process.env.BACKCHANNEL_WAIT_MS ?? 20_000);
const SECRET = 'rp-library-secret-0123456789';
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let work;
let server;
let serverLog;
let portal; // the portals' own web server: redirect URIs and the back-channel receiver
let CALLBACK; // <portal>/callback/: + client_id is each portal's redirect URI
const logoutRequests = []; // what the back-channel receiver got: { contentType, body }
let clientKey; // private_key_jwt: the portal's private key; its public half is registered

// One [[provider.clients]] table per portal; only the keys each feature needs.
function clientToml(id, extra) {
  return [
    '[[provider.clients]]',
    `client_id = "${id}"`,
    `name = "RP ${id}"`,
    `redirect_uris = ["${CALLBACK}${id}"]`,
    'scopes = ["profile", "email"]',
    ...extra,
    '',
  ].join('\n');
}

async function writeConfig(receiverUrl, publicJwk) {
  const jwks = JSON.stringify({ keys: [publicJwk] });
  const toml = [
    '[server]',
    'bind = "127.0.0.1:8280"',
    `public_url = "${ISSUER}"`,
    '[eaccess]',
    `issuer = "${MOCK}"`,
    '[demo]',
    'portal = false',
    '',
    // Nothing about the ID token's algorithm: RS256 must be the default.
    clientToml('rp-basic', [`secret = "${SECRET}"`]),
    clientToml('rp-public', ['public = true']),
    clientToml('rp-jwt', [`jwks = '${jwks}'`]),
    clientToml('rp-par', [`secret = "${SECRET}"`, 'require_pushed_authorization_requests = true']),
    clientToml('rp-dpop', [`secret = "${SECRET}"`, 'dpop_bound_access_tokens = true']),
    clientToml('rp-logout', [`secret = "${SECRET}"`, `backchannel_logout_uri = "${receiverUrl}"`]),
  ].join('\n');
  const file = join(work, 'rp-library.toml');
  await writeFile(file, toml);
  return file;
}

async function answers(url) {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

before(async () => {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  await prepareScreenshots();
  for (const url of [`${ISSUER}/healthz`, `${MOCK}/.well-known/openid-configuration`]) {
    assert.ok(!(await answers(url)), `something already answers at ${url}: ports 8280/8281 must be free`);
  }
  work = await mkdtemp(join(tmpdir(), 'devicelink-rp-library-'));

  // The callback page just says so (the library reads the browser's URL); the back-channel
  // logout endpoint records each request and answers 200 (BCL 2.8).
  portal = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/backchannel') {
        logoutRequests.push({ contentType: req.headers['content-type'], body });
      }
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('back at the portal');
    });
  });
  await new Promise((resolve) => portal.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${portal.address().port}`;
  CALLBACK = `${origin}/callback/`;
  const receiverUrl = `${origin}/backchannel`;

  const keys = await jose.generateKeyPair('RS256');
  clientKey = keys.privateKey;
  const publicJwk = { ...(await jose.exportJWK(keys.publicKey)), kid: 'rp-jwt-1', alg: 'RS256', use: 'sig' };

  const config = await writeConfig(receiverUrl, publicJwk);
  serverLog = join(work, 'devicelink.log');
  const out = openSync(serverLog, 'a');
  server = spawn(DEVICELINK_BIN, ['demo', '--config', config], { cwd: work, stdio: ['ignore', out, out] });
  const deadline = Date.now() + Number(process.env.DEVICELINK_WAIT_SECS ?? 60) * 1000;
  for (const url of [`${ISSUER}/healthz`, `${MOCK}/.well-known/openid-configuration`]) {
    while (!(await answers(url))) {
      if (server.exitCode !== null || Date.now() > deadline) {
        const log = await readFile(serverLog, 'utf8').catch(() => '');
        throw new Error(`devicelink demo --config ${config} did not answer at ${url}:\n${log.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
});

after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  portal?.close();
  if (work && !process.env.KEEP_WORKDIR) await rm(work, { recursive: true, force: true });
});

/** The library's view of devicelink, found by discovery alone. */
async function discover(clientId, metadata, auth) {
  // http on loopback: the library is https-only unless told otherwise. Without TLS the
  // token endpoint's answer is not authenticated by the channel, so the library also checks
  // the ID token's signature against the JWKS (its "non-repudiation" checks).
  return client.discovery(new URL(ISSUER), clientId, metadata, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

/**
 * In a fresh browser: open the library's authorization URL, choose eAccess on devicelink's
 * page, sign in as marie at the mock, register the first time, give consent the first time per
 * portal; returns the URL the browser was sent back to.
 */
async function signIn(step, page, authorizationUrl, clientId) {
  const redirectUri = `${CALLBACK}${clientId}`;
  const back = (url) => url.href.startsWith(redirectUri);
  await step('devicelink offers "Sign in with eAccess"', async () => {
    await page.goto(authorizationUrl.href, { waitUntil: 'load' });
    assert.equal(await visibleText(page.locator('h1'), 'h1'), `Sign in to RP ${clientId}`);
    await page.locator('#sign-in-eaccess').click();
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' });
  });
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile', (url) => url.origin === ISSUER || back(url));
  await step('register and consent where asked, back to the portal', async () => {
    if (new URL(page.url()).pathname === '/register') {
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
      await page.waitForURL((url) => back(url) || url.pathname !== '/register', { waitUntil: 'load' });
    }
    if (!back(new URL(page.url()))) {
      await page.locator('#consent-allow').click();
      await page.waitForURL(back, { waitUntil: 'load' });
    }
  });
  return new URL(page.url());
}

/** Code exchange, ID token and userinfo, all checked by the library. */
async function finish(config, callbackUrl, checks, options) {
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, checks, undefined, options);
  const claims = tokens.claims();
  assert.ok(claims, 'an ID token');
  // No portal here registers id_token_signed_response_alg: RS256 is the default (Core 15.1).
  assert.equal(jose.decodeProtectedHeader(tokens.id_token).alg, 'RS256', 'the ID token algorithm');
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, config.clientMetadata().client_id);
  assert.match(claims.sub, /^[0-9a-f-]{36}$/, 'sub is the devicelink account id');
  assert.equal(claims.acr, 'urn:devicelink:acr:eaccess:luxtrust_mobile');
  assert.equal(claims.email, 'marie@example.lu');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, options);
  assert.equal(userinfo.given_name, 'Marie');
  assert.equal(userinfo.family_name, 'Schmit');
  return { tokens, claims, userinfo };
}

/** Authorization parameters as openid-client's documentation builds them (PKCE S256 + nonce). */
async function authParams(clientId) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: `${CALLBACK}${clientId}`,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  return { params, checks: { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true } };
}

test('client_secret_basic: ID tokens are RS256 when the portal registers no algorithm', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-basic');
  const config = await discover('rp-basic', SECRET, client.ClientSecretBasic());
  const meta = config.serverMetadata();
  assert.ok(meta.id_token_signing_alg_values_supported.includes('RS256'), 'discovery lists RS256 (Discovery 3)');
  const jwks = await (await fetch(meta.jwks_uri)).json();
  assert.ok(
    jwks.keys.some((k) => k.kty === 'RSA' && k.alg === 'RS256' && k.use === 'sig' && k.kid),
    `an RS256 key in the JWKS: ${JSON.stringify(jwks.keys.map((k) => [k.kty, k.alg, k.kid]))}`,
  );
  const { params, checks } = await authParams('rp-basic');
  const back = await signIn(step, page, client.buildAuthorizationUrl(config, params), 'rp-basic');
  await step('the library redeems the code and checks ID token and userinfo', () => finish(config, back, checks));
});

test('a public client with PKCE (token_endpoint_auth_method none)', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-public');
  const config = await discover('rp-public', { token_endpoint_auth_method: 'none' }, client.None());
  const { params, checks } = await authParams('rp-public');
  const back = await signIn(step, page, client.buildAuthorizationUrl(config, params), 'rp-public');
  await step('the library redeems the code with the verifier alone', () => finish(config, back, checks));
});

test('private_key_jwt: the portal authenticates with a signed assertion (RS256 key)', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-jwt');
  const config = await discover('rp-jwt', { token_endpoint_auth_method: 'private_key_jwt' }, client.PrivateKeyJwt(clientKey));
  const { params, checks } = await authParams('rp-jwt');
  const back = await signIn(step, page, client.buildAuthorizationUrl(config, params), 'rp-jwt');
  await step('the library redeems the code with a client assertion', () => finish(config, back, checks));
});

test('PAR: a portal that must push its request signs in through request_uri', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-par');
  const config = await discover('rp-par', SECRET, client.ClientSecretBasic());
  assert.ok(config.serverMetadata().pushed_authorization_request_endpoint, 'discovery names the PAR endpoint');
  const { params, checks } = await authParams('rp-par');
  await step('without PAR the request is refused', async () => {
    const plain = client.buildAuthorizationUrl(config, params);
    const res = await fetch(plain, { redirect: 'manual' });
    const location = res.headers.get('location');
    const refused = location ? new URL(location, ISSUER).searchParams.has('error') : res.status >= 400;
    assert.ok(refused, `a plain authorization request answered ${res.status} ${location ?? ''}`);
  });
  const url = await step('the library pushes the request', () => client.buildAuthorizationUrlWithPAR(config, params));
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  const back = await signIn(step, page, url, 'rp-par');
  await step('the library redeems the code', () => finish(config, back, checks));
});

test('DPoP: tokens bound to the portal key, userinfo only with a proof', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-dpop');
  const config = await discover('rp-dpop', SECRET, client.ClientSecretBasic());
  assert.ok(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'));
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const { params, checks } = await authParams('rp-dpop');
  params.dpop_jkt = await DPoP.calculateThumbprint();
  const back = await signIn(step, page, client.buildAuthorizationUrl(config, params), 'rp-dpop');
  const { tokens } = await step('the library redeems the code and calls userinfo with DPoP proofs', () =>
    finish(config, back, checks, { DPoP }),
  );
  assert.equal(tokens.token_type, 'dpop', 'token_type DPoP (the library lower-cases it)');
  const cnf = jose.decodeJwt(tokens.access_token).cnf;
  assert.equal(cnf?.jkt, params.dpop_jkt, 'the access token is bound to the portal key (cnf.jkt)');
  await step('the bound token alone (as Bearer) is refused at userinfo', async () => {
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck), (err) => {
      assert.equal(err.status ?? err.cause?.status, 401, `refused with 401, not: ${err}`);
      return true;
    });
  });
});

test('back-channel logout: signing out of devicelink sends the portal a logout token', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'rp-logout');
  const config = await discover('rp-logout', SECRET, client.ClientSecretBasic());
  const meta = config.serverMetadata();
  assert.equal(meta.backchannel_logout_supported, true);
  assert.equal(meta.backchannel_logout_session_supported, true);
  const { params, checks } = await authParams('rp-logout');
  const back = await signIn(step, page, client.buildAuthorizationUrl(config, params), 'rp-logout');
  const { claims } = await step('the library redeems the code', () => finish(config, back, checks));
  assert.ok(claims.sid, 'the ID token carries sid');

  const already = logoutRequests.length;
  await step('sign out of devicelink', async () => {
    await page.goto(`${ISSUER}/dashboard`, { waitUntil: 'load' });
    await page.getByRole('button', { name: /sign out/i }).click();
    await page.waitForURL((url) => url.origin === ISSUER && url.pathname !== '/dashboard', { waitUntil: 'load' });
    await page.locator('#sign-in').waitFor({ state: 'visible' });
  });
  const request = await step('the receiver gets a logout token', async () => {
    const deadline = Date.now() + BACKCHANNEL_WAIT_MS;
    while (logoutRequests.length === already && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(logoutRequests.length > already, `no logout token within ${BACKCHANNEL_WAIT_MS} ms`);
    return logoutRequests[already];
  });
  await step('the logout token is valid (OIDC Back-Channel Logout 1.0, 2.4 and 2.6)', async () => {
    assert.match(request.contentType ?? '', /^application\/x-www-form-urlencoded/);
    const token = new URLSearchParams(request.body).get('logout_token');
    assert.ok(token, `a logout_token parameter in ${request.body.slice(0, 200)}`);
    const { payload } = await jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(meta.jwks_uri)), {
      issuer: ISSUER,
      audience: 'rp-logout',
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'exp', 'jti'],
    });
    assert.deepEqual(payload.events, { [LOGOUT_EVENT]: {} });
    assert.equal(payload.sid, claims.sid);
    assert.equal(payload.sub, claims.sub);
    assert.equal(payload.nonce, undefined, 'a logout token has no nonce');
  });
});
