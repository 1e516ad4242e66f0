// The device key and its DPoP proofs (RFC 9449 section 4.2), signed in the browser.
// The private key is generated non-extractable: script can sign with it, never read it.

import * as store from './store.js';

const enc = new TextEncoder();

export function b64url(bytes) {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  let s = '';
  for (const b of view) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64urlDecode(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i += 1) out[i] = s.charCodeAt(i);
  return out;
}

const b64urlJson = (value) => b64url(enc.encode(JSON.stringify(value)));

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text)));
}

/** The RFC 7638 thumbprint of an EC public JWK: the required members, in lexical order. */
export async function thumbprint(jwk) {
  return b64url(await sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })));
}

/** The installation's key: {pair, jwk, jkt}. Made on first use, then read from IndexedDB. */
export async function deviceKey() {
  let pair = await store.get('device-key');
  if (!pair) pair = await newDeviceKey();
  const full = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kty: full.kty, crv: full.crv, x: full.x, y: full.y };
  return { pair, jwk, jkt: await thumbprint(jwk) };
}

/** A fresh key pair (P-256, private key non-extractable), replacing the stored one. */
export async function newDeviceKey() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ]);
  await store.put('device-key', pair);
  return pair;
}

/**
 * A DPoP proof for one request: header {typ, alg, jwk}; claims jti (128 random bits),
 * htm, htu (without query and fragment), iat, and ath and nonce when given.
 */
export async function proof(key, htm, htu, { accessToken, nonce } = {}) {
  const target = new URL(htu);
  target.search = '';
  target.hash = '';
  const claims = {
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
    htm,
    htu: target.href,
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken) claims.ath = b64url(await sha256(accessToken));
  if (nonce) claims.nonce = nonce;
  const input = `${b64urlJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })}.${b64urlJson(claims)}`;
  // WebCrypto's ECDSA signature is r || s (IEEE P1363), exactly what JWS ES256 wants.
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.pair.privateKey,
    enc.encode(input),
  );
  return `${input}.${b64url(signature)}`;
}
