// "Link your device": name, method, then the QR code (camera or photo) or LuxTrust, the
// secret code, biometrics, done. Every step is one device-API call (docs/api.md,
// "Device API: linking"); a refused step shows the server's sentence and stays put.

import { call, serverConfig } from './api.js';
import { deviceKey } from './dpop.js';
import { setText, t } from './i18n.js';
import { scanCamera, scanPhoto } from './scanner.js';
import * as store from './store.js';
import { $, busy, clear, isSixDigits, onShow, show, showError, showText } from './ui.js';
import * as webauthn from './webauthn.js';

/**
 * The link in progress: {link_id, method, device_name, reset?}; kept in IndexedDB too. A
 * `reset` link sets a new secret code on this (linked) device: "Forgot your code?".
 */
let link = null;
let deviceName = '';
let scanning = null;
/** The error that ended the last scan (its code decides what "Scan again" does). */
let lastScanError = null;
let onLinked = () => {};
/** Whether the LuxTrust screen is open for "Forgot your code?" rather than for linking. */
let resetting = false;

const linkPath = (suffix = '') => `/api/v1/links/${encodeURIComponent(link.link_id)}${suffix}`;

async function startLink(body) {
  const key = await deviceKey();
  const view = await call('POST', '/api/v1/links', {
    json: { device_name: deviceName, platform: 'other', device_key: key.jwk, ...body },
  });
  link = { link_id: view.link_id, method: body.method, device_name: deviceName };
  await store.put('link', link);
  return view;
}

function stopScanning() {
  scanning?.stop();
  scanning = null;
}

/** What the camera or the photo read goes to the server; the answer decides the screen. */
async function redeem(text) {
  const error = $('scan-error');
  clear(error);
  try {
    const view = await call('POST', linkPath('/qr'), { json: { code: text } });
    stopScanning();
    boundTo(view);
    show('code');
  } catch (err) {
    stopScanning();
    lastScanError = err;
    show('scan');
    showError(error, err);
    $('link-hint').hidden = true;
    $('scan-again').hidden = false;
  }
}

function startCamera() {
  stopScanning();
  clear($('scan-error'));
  $('scan-again').hidden = true;
  $('link-hint').hidden = false;
  show('scan');
  scanning = scanCamera($('link-video'));
  scanning.result.then(redeem, (err) => {
    scanning = null;
    $('link-hint').hidden = true;
    showText($('scan-error'), 'app-scan-unavailable', { reason: err.message || err.name });
  });
}

async function readPhoto(input) {
  const file = input.files?.[0];
  input.value = '';
  if (!file) return;
  stopScanning();
  show('scan');
  clear($('scan-error'));
  const text = await scanPhoto(file).catch(() => null);
  if (text) await redeem(text);
  else {
    $('link-hint').hidden = true;
    showText($('scan-error'), 'app-scan-no-code');
  }
}

function boundTo(view) {
  const name = view?.account?.display_name;
  if (name) showText($('bound-to'), 'app-bound', { name });
  else clear($('bound-to'));
}

async function finish() {
  const done = await call('POST', linkPath('/complete'));
  const device = {
    ...((await store.get('device')) ?? {}),
    device_id: done.device_id,
    device_name: link.device_name,
    display_name: done.account?.display_name ?? '',
    biometrics: Boolean(done.biometrics),
  };
  await store.put('device', device);
  await store.remove('link');
  link = null;
  onLinked(device);
  setText($('success-text'), done.resets_secret_code ? 'app-reset-success' : 'app-success');
  show('success');
}

/** "Forgot your code?" from the unlock or the locked screen (`from`): choose the product. */
export function startReset(from) {
  resetting = true;
  setText($('luxtrust-help'), 'app-reset-help');
  $('luxtrust-back').dataset.go = from;
  clear($('luxtrust-error'));
  show('luxtrust');
}

/** Starts the reset link of this device (its key) with `product`. */
async function startResetLink(product, redirect) {
  const key = await deviceKey();
  const view = await call('POST', '/api/v1/device/secret-code/reset', {
    json: { device_key: key.jwk, product, app_redirect_uri: redirect },
  });
  const name = (await store.get('device'))?.device_name ?? view.device_name;
  link = { link_id: view.link_id, method: 'luxtrust', device_name: name, reset: true };
  await store.put('link', link);
  return view;
}

/** Gives up the link in progress (best effort) and goes home. */
export async function cancel() {
  stopScanning();
  const ending = link;
  link = null;
  await store.remove('link').catch(() => {});
  if (ending) {
    await call('DELETE', `/api/v1/links/${encodeURIComponent(ending.link_id)}`).catch(() => {});
  }
  // A reset ends where it began: the app of the linked device opens again.
  if (ending?.reset) window.location.assign(window.location.pathname);
  else show('home');
}

/** The LuxTrust return: `#link-callback?link_id=..&result=..` (or error=..). */
export async function resumeFromCallback(query) {
  show('returning');
  const params = new URLSearchParams(query);
  const error = $('returning-error');
  clear(error);
  link = (await store.get('link')) ?? null;
  deviceName = link?.device_name ?? '';
  const fail = (err) => {
    $('returning-status').hidden = true;
    showError(error, err);
    $('returning-home').hidden = false;
  };
  if (params.get('error')) {
    fail({ code: params.get('error'), message: params.get('error_description') || params.get('error') });
    return;
  }
  if (!link || link.link_id !== params.get('link_id') || !params.get('result')) {
    fail({ code: 'link_not_found', message: t('app-error-code', { code: 'link_not_found' }) });
    return;
  }
  try {
    const view = await call('POST', linkPath('/luxtrust'), { json: { result: params.get('result') } });
    boundTo(view);
    show('code');
  } catch (err) {
    fail(err);
  }
}

/** Wires the linking screens; `linked(device)` runs when a device is linked. */
export function setup(linked) {
  onLinked = linked;

  $('link-start').addEventListener('click', () => {
    clear($('name-error'));
    show('name');
  });
  onShow('name', () => $('device-name').focus());

  $('name-form').addEventListener('submit', (e) => {
    e.preventDefault();
    deviceName = $('device-name').value.trim();
    clear($('name-error'));
    if (!deviceName) {
      showText($('name-error'), 'app-device-name-help');
      return;
    }
    clear($('method-error'));
    show('method');
  });

  $('method-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const method = new FormData(e.target).get('method');
    clear($('method-error'));
    if (method === 'luxtrust') {
      resetting = false;
      setText($('luxtrust-help'), 'app-luxtrust-help');
      $('luxtrust-back').dataset.go = 'method';
      clear($('luxtrust-error'));
      show('luxtrust');
      return;
    }
    busy(e.target, async () => {
      try {
        await startLink({ method: 'qr' });
        show('camera');
      } catch (err) {
        if (err.code === 'invalid_device_name') {
          show('name');
          showError($('name-error'), err);
        } else showError($('method-error'), err);
      }
    });
  });

  $('luxtrust-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const product = new FormData(e.target).get('product');
    busy(e.target, async () => {
      try {
        const { app_redirect_uri: redirect } = await serverConfig();
        const view = resetting
          ? await startResetLink(product, redirect)
          : await startLink({ method: 'luxtrust', product, app_redirect_uri: redirect });
        // Devicelink's own page sends the browser on to eAccess, then back to the app.
        window.location.assign(view.authorization_url);
      } catch (err) {
        showError($('luxtrust-error'), err);
      }
    });
  });

  $('forgot-code').addEventListener('click', () => startReset('unlock'));
  $('locked-forgot').addEventListener('click', () => startReset('locked'));

  $('camera-allow').addEventListener('click', startCamera);
  $('link-photo').addEventListener('change', (e) => readPhoto(e.target));
  $('scan-photo').addEventListener('change', (e) => readPhoto(e.target));
  $('scan-again').addEventListener('click', (e) =>
    busy(e.target, async () => {
      // An ended link cannot take another code: start a new one with the same name.
      if (['link_expired', 'link_not_found', 'invalid_link_state'].includes(lastScanError?.code)) {
        try {
          await startLink({ method: 'qr' });
        } catch (err) {
          showError($('scan-error'), err);
          return;
        }
      }
      lastScanError = null;
      startCamera();
    }),
  );

  onShow('code', () => {
    $('code-1').value = '';
    $('code-2').value = '';
    clear($('code-error'));
    $('code-1').focus();
  });
  $('code-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const [one, two] = [$('code-1').value, $('code-2').value];
    const error = $('code-error');
    clear(error);
    const again = (fn) => {
      fn();
      $('code-1').value = '';
      $('code-2').value = '';
      $('code-1').focus();
    };
    if (!isSixDigits(one)) return again(() => showText(error, 'app-code-format'));
    if (one !== two) return again(() => showText(error, 'app-code-mismatch'));
    return busy(e.target, async () => {
      try {
        await call('PUT', linkPath('/secret-code'), { json: { secret_code: one } });
        // A reset keeps the device's biometrics as they are: done once the code is set.
        if (link.reset) return await finish();
        clear($('bio-error'));
        show('biometrics');
      } catch (err) {
        // A refused code keeps the scan: the link stays bound, the citizen tries another.
        again(() => showError(error, err));
      }
    });
  });

  onShow('biometrics', async () => {
    const button = $('bio-activate');
    const available = await webauthn.hasPlatformAuthenticator();
    button.disabled = !available;
    setText(button, available ? 'app-bio-activate' : 'app-bio-unavailable');
    (available ? button : $('bio-skip')).focus();
  });
  $('bio-activate').addEventListener('click', (e) =>
    busy(e.target, async () => {
      clear($('bio-error'));
      try {
        const options = await call('POST', linkPath('/passkey/options'));
        let credential;
        try {
          credential = await webauthn.create(options);
        } catch (err) {
          showText($('bio-error'), 'app-bio-failed', { reason: err.name || err.message });
          return;
        }
        await call('POST', linkPath('/passkey'), { json: { credential } });
        await finish();
      } catch (err) {
        showError($('bio-error'), err);
      }
    }),
  );
  $('bio-skip').addEventListener('click', (e) =>
    busy(e.target, async () => {
      clear($('bio-error'));
      try {
        await finish();
      } catch (err) {
        showError($('bio-error'), err);
      }
    }),
  );

  for (const el of document.querySelectorAll('[data-action="cancel-link"]')) {
    el.addEventListener('click', () => cancel());
  }
  for (const el of document.querySelectorAll('[data-go]')) {
    el.addEventListener('click', () => {
      stopScanning();
      show(el.dataset.go);
    });
  }
}
