// Self-test of the peer: starts server.mjs (twice: defaults, then the optional switches),
// plays a relying party with plain fetch and prints what the ID token carries and what
// userinfo carries. Exits non-zero on the first broken expectation.
//
//   node selftest.mjs            (add --trace to print every HTTP request)

import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify, constants } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { strict as assert } from 'node:assert';

import { CookieJar, signIn, signOut } from './login.mjs';

const TRACE = process.argv.includes('--trace');
const CLIENT_ID = 'devicelink';
const CLIENT_SECRET = 'peer secret/with+reserved&chars'; // exercises the Basic form-encoding
const REDIRECT_URI = 'http://127.0.0.1:9/auth/eaccess/callback'; // never contacted
const POST_LOGOUT_URI = 'http://127.0.0.1:9/';
const SCOPE = 'openid profile email eaccess';
const PROTOCOL_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'auth_time', 'sid', 'at_hash', 'acr', 'amr', 'azp']);

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const epoch = () => Math.floor(Date.now() / 1000);

async function startPeer(env) {
  const child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
    env: {
      ...process.env,
      EACCESS_PEER_ISSUER: 'http://127.0.0.1:0',
      EACCESS_PEER_CLIENT_ID: CLIENT_ID,
      EACCESS_PEER_CLIENT_SECRET: CLIENT_SECRET,
      EACCESS_PEER_REDIRECT_URIS: REDIRECT_URI,
      EACCESS_PEER_POST_LOGOUT_URIS: POST_LOGOUT_URI,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk) => {
    // The library's two start-up warnings (memory adapter, devInteractions) are expected.
    for (const line of String(chunk).split('\n')) {
      if (line && !line.startsWith('oidc-provider WARNING')) console.log(`  [peer stderr] ${line}`);
    }
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`server.mjs exited with ${code}`); }),
  ]);
  const issuer = /^eaccess-peer listening on (http:\/\/\S+)$/.exec(line)?.[1];
  assert.ok(issuer, `unexpected first line: ${line}`);
  return { child, issuer };
}

async function stopPeer({ child }) {
  child.kill('SIGTERM');
  const [code, signal] = await once(child, 'exit');
  assert.equal(code, 0, `peer exit on SIGTERM: code ${code}, signal ${signal}`);
}

// JWS verification with node:crypto against the peer's JWKS (kid from the header).
function verifyJws(jws, jwks) {
  const [h, p, s] = jws.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no JWK with kid ${header.kid}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok = {
    RS256: () => verify('sha256', data, key, sig),
    PS256: () => verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig),
    ES256: () => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
    EdDSA: () => verify(null, data, key, sig),
  }[header.alg]?.();
  assert.ok(ok, `signature (${header.alg}) does not verify`);
  return { header, payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

function trace(step) {
  if (!TRACE) return;
  const form = step.form ? ` form=${JSON.stringify(step.form)}` : '';
  const sent = step.cookiesSent.length ? ` cookies=[${step.cookiesSent}]` : '';
  const set = step.cookiesSet.length ? ` set=[${step.cookiesSet}]` : '';
  const loc = step.location ? ` -> ${step.location}` : '';
  console.log(`    ${step.method} ${step.url}${form}${sent} => ${step.status}${loc}${set}`);
}

/** One relying-party sign-in: authorize, login pages, token, userinfo. */
async function codeFlow(peer, jar, { title, login, extra = {}, expectPages }) {
  console.log(`\n${title}`);
  const { discovery, jwks } = peer;
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    // What devicelink sends too and this peer does not understand: ignored (voluntary).
    acr_values: 'urn:eaccess:product:luxtrust_mobile urn:eaccess:product:luxtrust_scan',
    product_hint: 'luxtrust_mobile luxtrust_scan',
    ...extra,
  }).toString();

  const started = epoch();
  const { callback, shown } = await signIn(jar, authorize, { login, trace });
  const answer = Object.fromEntries(callback.searchParams);
  assert.ok(answer.code, `no code: ${callback}`);
  assert.equal(answer.state, state);
  assert.equal(answer.iss, peer.issuer, 'RFC 9207 iss');
  assert.deepEqual(shown, expectPages, 'pages shown');

  // client_secret_basic: id and secret form-urlencoded, then Basic (RFC 6749 §2.3.1).
  const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
  const tokenResponse = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: answer.code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
    }),
  });
  const tokens = await tokenResponse.json();
  assert.equal(tokenResponse.status, 200, JSON.stringify(tokens));
  const { header, payload: idToken } = verifyJws(tokens.id_token, jwks);
  assert.equal(idToken.iss, peer.issuer);
  assert.equal(idToken.aud, CLIENT_ID);
  assert.equal(idToken.nonce, nonce);

  const userinfoResponse = await fetch(discovery.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(userinfoResponse.status, 200);
  const contentType = userinfoResponse.headers.get('content-type');
  const body = await userinfoResponse.text();
  let userinfo;
  let userinfoForm = 'JSON';
  if (contentType.startsWith('application/jwt')) {
    const signed = verifyJws(body, jwks);
    userinfo = signed.payload;
    userinfoForm = `JWT ${signed.header.alg}`;
  } else {
    userinfo = JSON.parse(body);
  }
  assert.equal(userinfo.sub, idToken.sub, 'userinfo sub = ID token sub');
  return {
    started, shown, idToken, idTokenAlg: header.alg, userinfo, userinfoForm, tokens,
  };
}

function show(result) {
  const { idToken, userinfo } = result;
  const identity = Object.keys(idToken).filter((k) => !PROTOCOL_CLAIMS.has(k));
  console.log(`  pages shown:      ${result.shown.join(', ') || '(none: SSO session)'}`);
  const { access_token: _a, id_token: _i, ...rest } = result.tokens;
  console.log(`  token response:   access_token, id_token, ${JSON.stringify(rest)}`);
  console.log(`  ID token (${result.idTokenAlg}):  ${JSON.stringify(idToken)}`);
  console.log(`  userinfo (${result.userinfoForm}): ${JSON.stringify(userinfo)}`);
  console.log(`  identity claims in the ID token: ${identity.length ? identity.join(', ') : 'none'}`);
  console.log(`  auth_time: ${idToken.auth_time === undefined ? 'absent' : `${idToken.auth_time} (login started ${result.started})`}`);
}

async function discover(peer) {
  const discovery = await (await fetch(`${peer.issuer}/.well-known/openid-configuration`)).json();
  const jwks = await (await fetch(discovery.jwks_uri)).json();
  return { ...peer, discovery, jwks };
}

const IDENTITY = ['name', 'given_name', 'family_name', 'email', 'email_verified', 'eaccess_product', 'eaccess_product_serial'];

// --- 1. defaults ---------------------------------------------------------------------------

let peer = await discover(await startPeer({}));
const d = peer.discovery;
console.log(`peer 1 (defaults): ${peer.issuer}`);
for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'end_session_endpoint',
  'scopes_supported', 'claims_supported', 'response_types_supported', 'code_challenge_methods_supported',
  'token_endpoint_auth_methods_supported', 'id_token_signing_alg_values_supported',
  'userinfo_signing_alg_values_supported', 'authorization_response_iss_parameter_supported',
  'claims_parameter_supported', 'acr_values_supported']) {
  console.log(`  ${key}: ${JSON.stringify(d[key])}`);
}
assert.equal(d.issuer, peer.issuer);
assert.equal(d.authorization_response_iss_parameter_supported, true);
assert.equal(d.claims_parameter_supported, false);
assert.ok(d.scopes_supported.includes('eaccess'));
assert.ok(d.claims_supported.includes('eaccess_product'));
console.log(`  JWKS: ${peer.jwks.keys.map((k) => `${k.kty}${k.crv ? `/${k.crv}` : ''}`).join(', ')}`);

let jar = new CookieJar();
let r = await codeFlow(peer, jar, {
  title: 'A. first sign-in, max_age=300, login "marie": login page, consent page',
  login: 'marie', extra: { max_age: '300' }, expectPages: ['login', 'consent'],
});
show(r);
for (const claim of IDENTITY) {
  assert.equal(r.idToken[claim], undefined, `${claim} must not be in the ID token`);
  assert.notEqual(r.userinfo[claim], undefined, `${claim} must be at userinfo`);
}
assert.equal(r.userinfo.eaccess_product, 'luxtrust_mobile');
assert.equal(r.userinfo.eaccess_product_serial, 'LTM-marie');
assert.ok(r.idToken.auth_time >= r.started - 1, 'auth_time with max_age');
const marieSub = r.idToken.sub;
const firstAuthTime = r.idToken.auth_time;

r = await codeFlow(peer, jar, {
  title: 'B. again in the same session, no max_age, no prompt: SSO, no page',
  login: 'marie', expectPages: [],
});
show(r);
assert.equal(r.idToken.auth_time, undefined, 'auth_time only when asked');

await new Promise((resolve) => { setTimeout(resolve, 1100); }); // a later auth_time
r = await codeFlow(peer, jar, {
  title: 'C. re-authenticate, prompt=login max_age=0, same login: login page only (grant kept)',
  login: 'marie', extra: { prompt: 'login', max_age: '0' }, expectPages: ['login'],
});
show(r);
assert.ok(r.idToken.auth_time > firstAuthTime, 'a new auth_time');

// Another login name is another oidc-provider account: it ends the old session first
// (a self-submitting form to end_session/confirm), then asks for consent again.
r = await codeFlow(peer, jar, {
  title: 'D. re-authenticate with another product, prompt=login, login "marie+scan"',
  login: 'marie+scan', extra: { prompt: 'login' }, expectPages: ['login', 'auto', 'consent'],
});
show(r);
assert.equal(r.userinfo.sub, marieSub, 'one person, one sub');
assert.equal(r.userinfo.eaccess_product, 'luxtrust_scan');
assert.equal(r.userinfo.eaccess_product_serial, 'LTS-marie');
assert.ok(r.idToken.auth_time, 'prompt=login alone also brings auth_time');

const logout = new URL(d.end_session_endpoint);
logout.search = new URLSearchParams({
  id_token_hint: r.tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye',
}).toString();
const after = await signOut(jar, logout, trace);
console.log(`\nE. RP-initiated logout (confirmation page, then xsrf + logout=yes) -> ${after}`);
assert.equal(after.href, `${POST_LOGOUT_URI}?state=bye`);
r = await codeFlow(peer, jar, { title: 'E2. after logout, a new login "jean+token"', login: 'jean+token', expectPages: ['login', 'consent'] });
show(r);
assert.equal(r.userinfo.eaccess_product, 'luxtrust_token');
await stopPeer(peer);
console.log('   peer 1 stopped by SIGTERM, exit code 0');

// --- 2. the optional switches -----------------------------------------------------------------

peer = await discover(await startPeer({
  EACCESS_PEER_SKIP_CONSENT: '1',
  EACCESS_PEER_CLAIMS_PARAMETER: '1',
  EACCESS_PEER_ID_TOKEN_ALG: 'ES256',
  EACCESS_PEER_USERINFO_ALG: 'PS256',
}));
console.log(`\npeer 2 (SKIP_CONSENT=1 CLAIMS_PARAMETER=1 ID_TOKEN_ALG=ES256 USERINFO_ALG=PS256): ${peer.issuer}`);
console.log(`  claims_parameter_supported: ${peer.discovery.claims_parameter_supported}, userinfo_signing_alg_values_supported: ${JSON.stringify(peer.discovery.userinfo_signing_alg_values_supported)}`);
jar = new CookieJar();
r = await codeFlow(peer, jar, {
  title: 'F. claims={"id_token":{"auth_time":{"essential":true}}}, no max_age, login "sophie+eid": no consent page',
  login: 'sophie+eid',
  extra: { claims: JSON.stringify({ id_token: { auth_time: { essential: true } } }) },
  expectPages: ['login'],
});
show(r);
assert.ok(r.idToken.auth_time, 'auth_time by the claims parameter');
assert.equal(r.idTokenAlg, 'ES256');
assert.equal(r.userinfoForm, 'JWT PS256');
assert.equal(r.userinfo.eaccess_product, 'eid_card');

r = await codeFlow(peer, jar, {
  title: 'G. any login name is an account: "Luc+card" (an unknown product, passed on as is)',
  login: 'Luc+card', extra: { max_age: '0' }, expectPages: ['login', 'auto'],
});
show(r);
assert.equal(r.userinfo.sub, 'eaccess-7e4d2b19-c6a8-4f3e-a1d5-2b9c8e7f6a05');
assert.equal(r.userinfo.eaccess_product, 'card');
await stopPeer(peer);

console.log('\nselftest: all expectations met');
