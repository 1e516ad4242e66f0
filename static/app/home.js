// The linked app: unlock (secret code or biometrics), the account, "Sign in to a
// portal", the secret code, biometrics on or off, "Unlink this device". Tokens stay in
// memory only (docs/api.md, "Device API: unlock, tokens, account, self-service").

import { ApiError, call } from './api.js';
import { newDeviceKey } from './dpop.js';
import { setText, language } from './i18n.js';
import { scanCamera, scanPhoto } from './scanner.js';
import * as store from './store.js';
import { $, busy, clear, isSixDigits, onShow, show, showError, showText } from './ui.js';
import * as webauthn from './webauthn.js';

let device = null;
let session = null;
let scanning = null;
let approval = null;
/** What to do once the secret code was entered again (step-up). */
let pending = null;

const tokenOf = (s) => s?.access_token;

/** Forgets the device (unlinked or to be linked again) and its tokens. */
async function forget() {
  session = null;
  device = null;
  await store.remove('device');
}

/** The server's refusals that end what this device can do, whatever the screen. */
async function handleFatal(err) {
  if (err.code === 'device_locked') {
    session = null;
    $('locked-sentence').textContent = err.message;
    show('locked');
    return true;
  }
  if (err.code === 'invalid_device') {
    await forget();
    showText($('home-notice'), 'app-unlinked');
    show('home');
    return true;
  }
  return false;
}

async function unlocked(tokens) {
  session = tokens;
  await showAccount();
}

/** A call with the access token; an expired token is refreshed once (token rotation). */
async function authed(method, path, opts = {}) {
  if (!session) throw new ApiError(401, { error: 'invalid_token' });
  try {
    return await call(method, path, { ...opts, token: tokenOf(session) });
  } catch (err) {
    if (err.code !== 'invalid_token' || !session.refresh_token) throw err;
    try {
      session = await call('POST', '/api/v1/device/token', {
        form: { grant_type: 'refresh_token', refresh_token: session.refresh_token },
      });
    } catch {
      session = null;
      throw err;
    }
    return call(method, path, { ...opts, token: tokenOf(session) });
  }
}

/** Runs `fn`; if the server wants a fresh secret-code unlock, asks for it, then runs it again. */
async function withStepUp(fn, errorEl) {
  try {
    await fn();
  } catch (err) {
    if (await handleFatal(err)) return;
    if (err.code === 'unlock_required') {
      pending = fn;
      show('stepup');
      return;
    }
    if (err.code === 'invalid_token') {
      show('unlock');
      return;
    }
    showError(errorEl, err);
  }
}

function formatDate(text) {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(language(), { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Luxembourg' }).format(date);
}

export async function showAccount(notice) {
  stopScanning();
  clear($('account-error'));
  if (notice) showText($('account-notice'), notice);
  else clear($('account-notice'));
  show('account');
  try {
    const me = await authed('GET', '/api/v1/me');
    $('me-name').textContent = me.display_name;
    $('me-device').textContent = me.device?.name ?? device?.device_name ?? '';
    $('me-since').textContent = formatDate(me.device?.linked_at);
    $('me-devices').textContent = String(me.linked_devices ?? '');
    const bio = Boolean(me.device?.biometrics);
    setText($('me-bio'), bio ? 'app-bio-on' : 'app-bio-off');
    setText($('bio-toggle'), bio ? 'app-bio-turn-off' : 'app-bio-turn-on');
    $('bio-toggle').dataset.on = String(bio);
    device = { ...device, biometrics: bio, display_name: me.display_name };
    await store.put('device', device);
  } catch (err) {
    if (await handleFatal(err)) return;
    if (err.code === 'invalid_token') show('unlock');
    else showError($('account-error'), err);
  }
}

function stopScanning() {
  scanning?.stop();
  scanning = null;
}

async function scanned(text) {
  stopScanning();
  clear($('approve-error'));
  try {
    approval = await call('POST', '/api/v1/provider/approvals/scan', { json: { code: text.trim() } });
    $('approve-scan').hidden = true;
    $('approve-decide').hidden = false;
    setText($('approve-ask'), 'app-approve-ask', { portal: approval.client_name });
    const shares = (approval.shares ?? []).join(', ');
    if (shares) setText($('approve-shares'), 'app-approve-shares', { shares });
    else $('approve-shares').textContent = '';
    $('approve-yes').focus();
  } catch (err) {
    if (await handleFatal(err)) return;
    $('approve-scan').hidden = true;
    showError($('approve-error'), err);
    $('approve-again').hidden = false;
  }
}

function startApproval() {
  approval = null;
  clear($('approve-error'), $('approve-result'));
  $('approve-again').hidden = true;
  $('approve-decide').hidden = true;
  $('approve-scan').hidden = false;
  show('approve');
  stopScanning();
  scanning = scanCamera($('approve-video'));
  scanning.result.then(scanned, (err) => {
    scanning = null;
    showText($('approve-error'), 'app-scan-unavailable', { reason: err.message || err.name });
  });
}

function decided(id) {
  $('approve-decide').hidden = true;
  showText($('approve-result'), id);
}

const codeInputs = () => ['change-current', 'change-new', 'change-again'].map($);

/** Wires the screens of a linked device. */
export function setup() {
  onShow('unlock', async () => {
    clear($('unlock-error'));
    $('unlock-code').value = '';
    setText($('unlock-help'), 'app-unlock-help', { device: device?.device_name ?? '' });
    const bio = Boolean(device?.biometrics) && (await webauthn.hasPlatformAuthenticator());
    $('unlock-bio').hidden = !bio;
    $('unlock-code').focus();
  });

  $('unlock-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const code = $('unlock-code').value;
    const error = $('unlock-error');
    clear(error);
    if (!isSixDigits(code)) {
      showText(error, 'app-code-format');
      return undefined;
    }
    return busy(e.target, async () => {
      try {
        await unlocked(
          await call('POST', '/api/v1/device/unlock', { json: { method: 'secret_code', secret_code: code } }),
        );
      } catch (err) {
        $('unlock-code').value = '';
        $('unlock-code').focus();
        if (await handleFatal(err)) return;
        showError(error, err);
        if (err.body?.attempts_remaining !== undefined) {
          const left = document.createElement('span');
          left.className = 'attempts';
          setText(left, 'app-attempts-left', { count: err.body.attempts_remaining });
          error.append(' ', left);
        }
      }
    });
  });

  $('unlock-bio').addEventListener('click', (e) =>
    busy(e.target, async () => {
      const error = $('unlock-error');
      clear(error);
      try {
        const options = await call('POST', '/api/v1/device/unlock/biometrics/options');
        let credential;
        try {
          credential = await webauthn.get(options);
        } catch (err) {
          showText(error, 'app-bio-failed', { reason: err.name || err.message });
          return;
        }
        await unlocked(
          await call('POST', '/api/v1/device/unlock', { json: { method: 'biometrics', credential } }),
        );
      } catch (err) {
        if (await handleFatal(err)) return;
        showError(error, err);
      }
    }),
  );

  $('stepup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const code = $('stepup-code').value;
    const error = $('stepup-error');
    clear(error);
    $('stepup-code').value = '';
    if (!isSixDigits(code)) {
      showText(error, 'app-code-format');
      return undefined;
    }
    return busy(e.target, async () => {
      try {
        session = await call('POST', '/api/v1/device/unlock', {
          json: { method: 'secret_code', secret_code: code },
        });
      } catch (err) {
        if (await handleFatal(err)) return;
        showError(error, err);
        return;
      }
      const next = pending;
      pending = null;
      await next?.();
    });
  });
  onShow('stepup', () => {
    clear($('stepup-error'));
    $('stepup-code').focus();
  });

  for (const el of document.querySelectorAll('[data-action="account"]')) {
    el.addEventListener('click', () => showAccount());
  }

  $('sign-in-portal').addEventListener('click', startApproval);
  $('approve-again').addEventListener('click', startApproval);
  $('approve-photo').addEventListener('change', async (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    const text = await scanPhoto(file).catch(() => null);
    if (text) await scanned(text);
    else showText($('approve-error'), 'app-scan-no-code');
  });
  $('approve-yes').addEventListener('click', (e) =>
    busy(e.target, () =>
      withStepUp(async () => {
        show('approve');
        await authed('POST', `/api/v1/provider/approvals/${encodeURIComponent(approval.approval_id)}/approve`);
        decided('app-approved');
      }, $('approve-error')),
    ),
  );
  $('approve-no').addEventListener('click', (e) =>
    busy(e.target, async () => {
      try {
        await call('POST', `/api/v1/provider/approvals/${encodeURIComponent(approval.approval_id)}/refuse`);
        decided('app-refused');
      } catch (err) {
        if (!(await handleFatal(err))) showError($('approve-error'), err);
      }
    }),
  );

  $('change-code').addEventListener('click', () => {
    codeInputs().forEach((i) => {
      i.value = '';
    });
    clear($('change-error'));
    show('change');
    $('change-current').focus();
  });
  $('change-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const [current, fresh, again] = codeInputs().map((i) => i.value);
    const error = $('change-error');
    clear(error);
    const retry = (id, args) => {
      showText(error, id, args);
      $('change-new').value = '';
      $('change-again').value = '';
      $('change-new').focus();
    };
    if (![current, fresh].every(isSixDigits)) return retry('app-code-format');
    if (fresh !== again) return retry('app-code-mismatch');
    return busy(e.target, async () => {
      try {
        await authed('PUT', '/api/v1/device/secret-code', {
          json: { current_secret_code: current, new_secret_code: fresh },
        });
        await showAccount('app-change-done');
      } catch (err) {
        if (await handleFatal(err)) return;
        if (err.code === 'invalid_token') {
          show('unlock');
          return;
        }
        showError(error, err);
        if (err.body?.attempts_remaining !== undefined) {
          const left = document.createElement('span');
          setText(left, 'app-attempts-left', { count: err.body.attempts_remaining });
          error.append(' ', left);
        }
        codeInputs().forEach((i) => {
          i.value = '';
        });
        $('change-current').focus();
      }
    });
  });

  $('bio-toggle').addEventListener('click', (e) =>
    busy(e.target, () => {
      const on = $('bio-toggle').dataset.on === 'true';
      if (on) {
        return withStepUp(async () => {
          await authed('DELETE', '/api/v1/device/biometrics');
          await showAccount('app-bio-done-off');
        }, $('account-error'));
      }
      return withStepUp(async () => {
        if (!(await webauthn.hasPlatformAuthenticator())) {
          show('account');
          showText($('account-error'), 'app-bio-unavailable');
          return;
        }
        const options = await authed('POST', '/api/v1/device/biometrics/options');
        let credential;
        try {
          credential = await webauthn.create(options);
        } catch (err) {
          show('account');
          showText($('account-error'), 'app-bio-failed', { reason: err.name || err.message });
          return;
        }
        await authed('POST', '/api/v1/device/biometrics', { json: { credential } });
        await showAccount('app-bio-done-on');
      }, $('account-error'));
    }),
  );

  $('unlink').addEventListener('click', () => {
    clear($('unlink-error'));
    show('unlink');
  });
  $('unlink-yes').addEventListener('click', (e) =>
    busy(e.target, async () => {
      try {
        await authed('DELETE', '/api/v1/device');
      } catch (err) {
        if (await handleFatal(err)) return;
        showError($('unlink-error'), err);
        return;
      }
      await forget();
      showText($('home-notice'), 'app-unlinked');
      show('home');
    }),
  );

  $('lock').addEventListener('click', () => {
    session = null;
    show('unlock');
  });

  $('link-again').addEventListener('click', (e) =>
    busy(e.target, async () => {
      // The locked device keeps its key on the server until it is unlinked in the
      // browser; linking again needs a new installation key.
      await forget();
      await newDeviceKey();
      clear($('home-notice'));
      show('name');
    }),
  );
}

/** The app starts linked: open it with the unlock screen. */
export function start(linked) {
  device = linked;
  session = null;
  show('unlock');
}

/** A device was just linked: "Back to home screen" opens the unlock screen. */
export function linkedNow(linked) {
  device = linked;
  session = null;
}
