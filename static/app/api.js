// The device API over HTTP (docs/api.md), as the reference client src/device_client/
// speaks it: a fresh DPoP proof on every request, the server's DPoP-Nonce kept, one
// retry on `use_dpop_nonce`, the chosen language in Accept-Language.

import { deviceKey, proof } from './dpop.js';

/** An error envelope of devicelink ({error, error_description, ...}) or a network failure. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error_description || body?.error || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? (status === 0 ? 'network_error' : 'unknown_error');
    this.body = body ?? {};
  }
}

let config = null;
let nonce = null;
let language = 'fr';

export function setLanguage(lang) {
  language = lang;
}

/** The server's public URL (what `htu` names) and the LuxTrust return, from /app/config.json. */
export async function serverConfig() {
  if (!config) {
    const res = await fetch('config.json', { cache: 'no-cache' });
    if (!res.ok) throw new ApiError(res.status, null);
    config = await res.json();
  }
  return config;
}

/**
 * One signed request. `json` or `form` is the body; `token` adds `Authorization: DPoP`.
 * Resolves to the parsed body (null when empty); rejects with an ApiError.
 */
export async function call(method, path, { json, form, token, key } = {}) {
  const { public_url: publicUrl } = await serverConfig();
  const deviceKeyNow = key ?? (await deviceKey());
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const headers = {
      DPoP: await proof(deviceKeyNow, method, publicUrl + path, { accessToken: token, nonce }),
      'Accept-Language': language,
      Accept: 'application/json',
    };
    if (token) headers.Authorization = `DPoP ${token}`;
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    let res;
    try {
      // Same origin as the app: the path, whatever host the phone reached us by.
      res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
    } catch {
      throw new ApiError(0, null);
    }
    const fresh = res.headers.get('DPoP-Nonce');
    if (fresh) nonce = fresh;
    const text = await res.text();
    let value = null;
    if (text) {
      try {
        value = JSON.parse(text);
      } catch {
        value = null;
      }
    }
    if (res.ok) return value;
    if (value?.error === 'use_dpop_nonce' && attempt === 0 && fresh) continue;
    throw new ApiError(res.status, value);
  }
  throw new ApiError(401, { error: 'use_dpop_nonce' });
}
