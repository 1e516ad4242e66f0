// Smoke test of the benchmark peer: starts server.mjs on a free port (or on $PORT),
// seeds a DPoP-bound refresh token, rotates it, checks the failure cases, and times
// 200 sequential refreshes. Exit 0 on success.
//
//   node smoke.mjs            (or PORT=8123 node smoke.mjs)

import { spawn } from 'node:child_process';
import {
  createHash, generateKeyPairSync, randomBytes, sign,
} from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const LOOP = 200;

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function fail(message) {
  throw new Error(message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startPeer(port) {
  const child = spawn(process.execPath, [join(here, 'server.mjs')], {
    cwd: here,
    env: {
      ...process.env, PORT: String(port), NODE_ENV: 'production', PEER_ERROR_DETAIL: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const ready = new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`peer not ready within 15 s\n${stderr}`)), 15_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/^peer ready (\S+)$/m);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`peer exited with ${code}\n${stderr}`));
    });
  });
  return { child, ready, stderr: () => stderr };
}

/** A device: a P-256 key, its public JWK and RFC 7638 thumbprint. */
function newDevice() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty, crv, x, y };
  // RFC 7638: required members only, lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv, kty, x, y });
  const jkt = b64u(createHash('sha256').update(canonical).digest());
  return { privateKey, jwk, jkt };
}

/** An RFC 9449 DPoP proof for POST `htu`. */
function proof(device, htu) {
  const header = b64u(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: device.jwk }));
  const claims = b64u(JSON.stringify({
    jti: b64u(randomBytes(16)),
    htm: 'POST',
    htu,
    iat: Math.floor(Date.now() / 1000),
  }));
  const input = `${header}.${claims}`;
  const sig = sign('sha256', Buffer.from(input), { key: device.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(sig)}`;
}

async function seed(issuer, jkt) {
  const res = await fetch(`${issuer}/bench/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jkt }),
  });
  const body = await res.json();
  if (res.status !== 200 || typeof body.refresh_token !== 'string') {
    fail(`seed answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.refresh_token;
}

async function tokenRequest(tokenEndpoint, refreshToken, dpop) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (dpop) headers.dpop = dpop;
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers,
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'bench',
    }),
  });
  return { status: res.status, body: await res.json(), detail: res.headers.get('x-error-detail') };
}

async function refreshOk(tokenEndpoint, device, refreshToken, what, dpop = proof(device, tokenEndpoint)) {
  const { status, body } = await tokenRequest(tokenEndpoint, refreshToken, dpop);
  if (status !== 200) fail(`${what}: expected 200, got ${status}: ${JSON.stringify(body)}`);
  if (body.token_type !== 'DPoP') fail(`${what}: token_type ${body.token_type}, expected DPoP`);
  if (typeof body.refresh_token !== 'string' || body.refresh_token === refreshToken) {
    fail(`${what}: no new refresh token (rotation off?): ${JSON.stringify(body)}`);
  }
  return body;
}

async function expectInvalidGrant(tokenEndpoint, refreshToken, dpop, what, reason) {
  const { status, body, detail } = await tokenRequest(tokenEndpoint, refreshToken, dpop);
  if (status !== 400 || body.error !== 'invalid_grant') {
    fail(`${what}: expected 400 invalid_grant, got ${status}: ${JSON.stringify(body)}`);
  }
  if (detail !== reason) fail(`${what}: refused for "${detail}", expected "${reason}"`);
  console.log(`ok   ${what}: 400 invalid_grant (${detail})`);
}

function jwtParts(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

async function main(issuerArg) {
  const issuer = issuerArg.replace(/\/$/, '');
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const tokenEndpoint = discovery.token_endpoint ?? fail('discovery has no token_endpoint');
  console.log(`peer ${issuer}, token_endpoint ${tokenEndpoint}, dpop algs ${discovery.dpop_signing_alg_values_supported}`);

  const device = newDevice();
  const first = await seed(issuer, device.jkt);
  console.log(`ok   seeded a refresh token bound to jkt ${device.jkt}`);

  // Three rotations in a row.
  const chain = [first];
  for (let i = 1; i <= 3; i += 1) {
    const body = await refreshOk(tokenEndpoint, device, chain.at(-1), `refresh ${i}`);
    if (chain.includes(body.refresh_token)) fail(`refresh ${i}: refresh token reused`);
    chain.push(body.refresh_token);
    if (i === 1) {
      const { header, payload } = jwtParts(body.access_token);
      if (payload.cnf?.jkt !== device.jkt) fail(`access token cnf.jkt ${payload.cnf?.jkt}, expected ${device.jkt}`);
      console.log(`ok   refresh 1: 200 DPoP, access token ${header.typ} ${header.alg} cnf.jkt bound, `
        + `id_token ${body.id_token ? 'present' : 'absent'}, expires_in ${body.expires_in}, scope "${body.scope}"`);
    } else {
      console.log(`ok   refresh ${i}: 200 DPoP, new refresh token`);
    }
  }
  const current = chain.at(-1);

  // Failures that must not burn the current token.
  await expectInvalidGrant(tokenEndpoint, current, undefined, 'no DPoP proof', 'DPoP proof JWT not provided');
  await expectInvalidGrant(tokenEndpoint, current, proof(newDevice(), tokenEndpoint), 'proof from a different key', 'failed jkt verification');
  const replayed = proof(device, tokenEndpoint);
  const next = await refreshOk(tokenEndpoint, device, current, 'refresh 4 (current token still good after the failures)', replayed);
  console.log('ok   refresh 4: current token still usable after the rejected attempts');
  await expectInvalidGrant(tokenEndpoint, next.refresh_token, replayed, 'replayed DPoP proof (same jti)', 'DPoP proof JWT Replay detected');
  // Reuse of a rotated-out token: refused, and the whole family is revoked.
  await expectInvalidGrant(tokenEndpoint, chain[1], proof(device, tokenEndpoint), 'reuse of an old (rotated) refresh token', 'refresh token already used');
  await expectInvalidGrant(tokenEndpoint, next.refresh_token, proof(device, tokenEndpoint), 'newest token after reuse detection (family revoked)', 'refresh token not found');

  // Timing: 200 sequential refreshes of a fresh family (proof made per request).
  let token = await seed(issuer, device.jkt);
  await refreshOk(tokenEndpoint, device, token, 'warm-up').then((b) => { token = b.refresh_token; });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOP; i += 1) {
    token = (await refreshOk(tokenEndpoint, device, token, `loop refresh ${i + 1}`)).refresh_token;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`info ${LOOP} sequential refreshes in ${secs.toFixed(2)} s: ${(LOOP / secs).toFixed(0)} refreshes/s `
    + '(one client, one connection, proofs made in the same process)');
}

const port = process.env.PORT ? Number(process.env.PORT) : await freePort();
const peer = startPeer(port);
let code = 0;
try {
  await main(await peer.ready);
  console.log('smoke: 1 passed, 0 failed');
} catch (err) {
  console.error(`smoke FAILED: ${err.message}`);
  if (peer.stderr()) console.error(`peer stderr:\n${peer.stderr()}`);
  code = 1;
} finally {
  peer.child.kill('SIGTERM');
}
process.exitCode = code;
