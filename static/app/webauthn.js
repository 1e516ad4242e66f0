// WebAuthn in the browser with the server's JSON (webauthn-rs options, W3C WebAuthn
// Level 3 JSON: base64url for every binary member), both ways.

import { b64url, b64urlDecode } from './dpop.js';

/** Whether the browser offers a user-verifying platform authenticator (Face ID, fingerprint). */
export async function hasPlatformAuthenticator() {
  try {
    return Boolean(
      window.PublicKeyCredential &&
        (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()),
    );
  } catch {
    return false;
  }
}

const buffer = (text) => b64urlDecode(text).buffer;
const withIds = (list) => (list ?? []).map((c) => ({ ...c, id: buffer(c.id) }));

function creationOptions(options) {
  const pk = options.publicKey;
  return {
    ...pk,
    challenge: buffer(pk.challenge),
    user: { ...pk.user, id: buffer(pk.user.id) },
    excludeCredentials: withIds(pk.excludeCredentials),
    // The phone's own authenticator first (Face ID, fingerprint); user verification
    // stays required, as the server asks.
    authenticatorSelection: {
      ...(pk.authenticatorSelection ?? {}),
      authenticatorAttachment: pk.authenticatorSelection?.authenticatorAttachment ?? 'platform',
      userVerification: 'required',
    },
    hints: ['client-device'],
  };
}

function requestOptions(options) {
  const pk = options.publicKey;
  return { ...pk, challenge: buffer(pk.challenge), allowCredentials: withIds(pk.allowCredentials) };
}

/** Registration: the credential as PublicKeyCredential.toJSON() gives it. */
export async function create(options) {
  const cred = await navigator.credentials.create({ publicKey: creationOptions(options) });
  const response = {
    attestationObject: b64url(cred.response.attestationObject),
    clientDataJSON: b64url(cred.response.clientDataJSON),
  };
  if (cred.response.getTransports) response.transports = cred.response.getTransports();
  return {
    id: cred.id,
    rawId: b64url(cred.rawId),
    type: cred.type,
    response,
    clientExtensionResults: cred.getClientExtensionResults?.() ?? {},
  };
}

/** Authentication: the assertion as PublicKeyCredential.toJSON() gives it. */
export async function get(options) {
  const cred = await navigator.credentials.get({ publicKey: requestOptions(options) });
  const r = cred.response;
  return {
    id: cred.id,
    rawId: b64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64url(r.authenticatorData),
      clientDataJSON: b64url(r.clientDataJSON),
      signature: b64url(r.signature),
      userHandle: r.userHandle ? b64url(r.userHandle) : null,
    },
    clientExtensionResults: cred.getClientExtensionResults?.() ?? {},
  };
}
