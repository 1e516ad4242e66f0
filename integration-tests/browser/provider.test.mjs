// Real-browser test of "Sign in with your mobile app" through the OpenID Connect provider: at the
// demo portal that `devicelink demo` starts on :8090 (a relying party that knows devicelink by its
// discovery URL), a fresh browser clicks "Sign in with devicelink"; devicelink shows a QR code; the
// reference client (`devicelink device approve`) reads a screenshot of it, unlocks with the secret
// code and approves; the page continues by itself to the portal, which checks the ID token and
// shows acr/amr of a device sign-in.
//
// Run through run.sh, which starts `devicelink demo` and exports DEVICELINK_BIN. See README.md.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  PORTAL,
  SCREENSHOTS,
  loginAtMock,
  onOrigin,
  openBrowser,
  prepareScreenshots,
  startSignIn,
  stepper,
  visibleText,
} from './harness.mjs';

const DEVICELINK_BIN = process.env.DEVICELINK_BIN;
const DEMO_PORTAL = 'http://127.0.0.1:8090/';
const REDIRECT_URI = `${DEMO_PORTAL}callback`;
const CONTINUE_TIMEOUT_MS = Number(process.env.LINKED_TIMEOUT_MS ?? 20_000);

before(async () => {
  await prepareScreenshots();
});

function deviceClientEnv() {
  const env = { ...process.env };
  delete env.DEVICELINK_CONFIG;
  delete env.DEVICELINK_SECRET_CODE;
  return env;
}

async function runDeviceClient(args) {
  try {
    const { stdout } = await promisify(execFile)(DEVICELINK_BIN, args, {
      timeout: 60_000,
      encoding: 'utf8',
      env: deviceClientEnv(),
    });
    return stdout;
  } catch (err) {
    throw new Error(
      `${DEVICELINK_BIN} ${args.join(' ')} failed (exit ${err.code}):\n  stdout: ${err.stdout}\n  stderr: ${err.stderr}`,
    );
  }
}

test('a portal signs a citizen in with the mobile app: QR shown, app approves, page continues', async (t) => {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  const work = await mkdtemp(join(tmpdir(), 'devicelink-phone-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const state = join(work, 'device-state.json');

  // 1. The citizen links a phone (in their own browser).
  {
    const { page } = await openBrowser(t);
    const step = stepper(t, page, 'provider-link');
    await startSignIn(step, page);
    await loginAtMock(step, page, 'marie', 'luxtrust_mobile');
    await step('reach the dashboard (registering if needed)', async () => {
      if (new URL(page.url()).pathname === '/register') {
        await page.locator('input[name="accept_terms"]').check();
        await page.locator('#register').click();
      }
      await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' });
    });
    await step('link a phone with the reference client', async () => {
      await page.locator('#link-device').click();
      await page.waitForURL(onOrigin(PORTAL, '/devices/link'), { waitUntil: 'load' });
      const shot = join(SCREENSHOTS, 'provider-link-qr.png');
      await page.locator('#qr-image').waitFor({ state: 'visible' });
      await page.locator('#qr-image').screenshot({ path: shot });
      await runDeviceClient([
        'device', 'link', '--server', PORTAL.origin, '--name', 'Provider phone', '--qr', shot,
        '--secret-code', '482913', '--skip-biometrics', '--state', state,
      ]);
    });
  }

  // 2. At the demo portal (a relying party that knows devicelink by its discovery URL), a
  //    fresh browser (no devicelink session) clicks "Sign in with devicelink".
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'provider');
  await step('the demo portal sends the browser to devicelink', async () => {
    await page.goto(DEMO_PORTAL, { waitUntil: 'load' });
    await page.locator('#sign-in').click();
    await page.waitForURL(onOrigin(PORTAL, '/oidc/authorize'), { waitUntil: 'load' });
  });

  await step('the provider offers "Sign in with your mobile app"', async () => {
    const heading = await visibleText(page.locator('h1'), 'h1');
    assert.equal(heading, 'Sign in to Demo portal');
    await page.locator('#sign-in-app').click();
    await page.waitForURL(onOrigin(PORTAL, '/oidc/authorize/app'), { waitUntil: 'load' });
  });

  const qrShot = join(SCREENSHOTS, 'provider-approve-qr.png');
  await step('the page shows a QR code and waits', async () => {
    await page.locator('#approval-qr').waitFor({ state: 'visible' });
    const status = await visibleText(page.locator('#approval-status'), '#approval-status');
    assert.match(status, /waiting for your phone/i);
    await page.locator('#approval-qr').screenshot({ path: qrShot });
  });

  const redirected = page.waitForRequest((req) => req.url().startsWith(REDIRECT_URI), {
    timeout: CONTINUE_TIMEOUT_MS,
  });
  await step('the app approves from the screenshot (devicelink device approve)', async () => {
    const stdout = await runDeviceClient([
      'device', 'approve', '--qr', qrShot, '--secret-code', '482913', '--state', state,
    ]);
    t.diagnostic(`device client: ${stdout.trim().replace(/\n/g, ' | ')}`);
    assert.match(stdout, /Demo portal asks to sign you in/);
    assert.match(stdout, /Approved/);
  });

  await step('the page continues by itself to the portal with a code', async () => {
    const req = await redirected;
    const back = new URL(req.url());
    assert.equal(back.searchParams.get('iss'), PORTAL.origin);
    assert.ok(back.searchParams.get('code'), `a code in ${back.href}`);
  });

  await step('the demo portal checked the ID token: signed in with the device', async () => {
    await page.waitForURL((url) => url.href.startsWith(REDIRECT_URI), { waitUntil: 'load' });
    const acr = await visibleText(page.locator('td[data-claim="acr"]'), 'acr claim');
    assert.match(acr, /^urn:devicelink:acr:device/);
    const amr = await visibleText(page.locator('td[data-claim="amr"]'), 'amr claim');
    assert.equal(amr, 'hwk pin');
    await page.screenshot({ path: join(SCREENSHOTS, 'provider-demo-portal-signed-in.png') });
  });
});
