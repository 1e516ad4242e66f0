// Real-browser test of "Link a device": the page shows an animated QR code, the reference
// client (`devicelink device link`) reads a screenshot of it like a phone camera, and the page
// then says the device is linked.
//
// Run through run.sh, which starts `devicelink demo` and exports DEVICELINK_BIN (the binary
// whose `device link` subcommand plays the phone). See README.md.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
// The page script polls every 2 seconds; allow a few polls plus a slow machine.
const LINKED_TIMEOUT_MS = Number(process.env.LINKED_TIMEOUT_MS ?? 20_000);
const DEVICE_NAME = 'Playwright phone';

before(async () => {
  await prepareScreenshots();
});

/** The environment of the client: no server configuration or secret code leaks in. */
function deviceClientEnv() {
  const env = { ...process.env };
  delete env.DEVICELINK_CONFIG;
  delete env.DEVICELINK_SECRET_CODE;
  return env;
}

/**
 * Runs the reference client; resolves to its stdout or fails with its exit code, stdout and
 * stderr. Asynchronous, so that the browser keeps polling meanwhile.
 */
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

test('a phone links by scanning a screenshot of the QR code, and the page then says it is linked', async (t) => {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'link');
  const work = await mkdtemp(join(tmpdir(), 'devicelink-phone-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const qrShot = join(SCREENSHOTS, 'link-qr.png');

  await startSignIn(step, page);
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile');

  await step('reach the dashboard (registering if this is the first sign-in)', async () => {
    // The database is fresh per run.sh invocation but shared by the test files: marie may
    // already be registered.
    if (new URL(page.url()).pathname === '/register') {
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
    }
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`signing in did not lead to /dashboard: ${err.message.split('\n')[0]}`);
    });
  });

  await step('click "Link a device"', async () => {
    await page.locator('#link-device').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices/link'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`"Link a device" did not open /devices/link: ${err.message.split('\n')[0]}`);
    });
  });

  await step('the page shows a QR code and waits for a phone', async () => {
    const img = page.locator('#qr-image');
    await img.waitFor({ state: 'visible' });
    const src = await img.getAttribute('src');
    assert.match(src ?? '', /^data:image\/svg\+xml;base64,/, '#qr-image should be an inline SVG');
    const status = await visibleText(page.locator('#link-status'), '#link-status');
    assert.match(status, /waiting for your phone/i, `#link-status should say waiting, says "${status}"`);
    // The script's first poll has answered once the countdown reads m:ss.
    await page.waitForFunction(() => /^\d+:\d\d$/.test(document.getElementById('countdown')?.textContent ?? ''));
    assert.equal(await page.locator('#link-qr').getAttribute('data-status'), 'waiting');
    assert.equal(await page.locator('#cancel-form').isVisible(), false, 'no cancel button before a scan');
  });

  await step('screenshot of the QR code (what the phone camera sees)', async () => {
    await page.locator('#qr-image').screenshot({ path: qrShot });
  });

  await step('the reference client links a phone from the screenshot', async () => {
    const state = join(work, 'device-state.json');
    const stdout = await runDeviceClient([
      'device', 'link',
      '--server', PORTAL.origin,
      '--name', DEVICE_NAME,
      '--qr', qrShot,
      '--secret-code', '482913',
      '--skip-biometrics',
      '--state', state,
    ]);
    t.diagnostic(`device client: ${stdout.trim().replace(/\n/g, ' | ')}`);
    assert.match(
      stdout,
      new RegExp(`Linked “${DEVICE_NAME}” to the account of Marie Schmit \\(device id [0-9a-f-]{36}\\)`),
    );
    const saved = JSON.parse(await readFile(state, 'utf8'));
    assert.ok(saved.device_id, `the state file should hold the device id: ${JSON.stringify(Object.keys(saved))}`);
  });

  await step('the page says the device is linked (its script polls every 2 s)', async () => {
    await page
      .locator('#link-status', { hasText: 'is now linked' })
      .waitFor({ state: 'visible', timeout: LINKED_TIMEOUT_MS })
      .catch(async (err) => {
        const now = await page.locator('#link-status').innerText().catch(() => '?');
        throw new Error(`#link-status never said "is now linked" (says "${now}"): ${err.message.split('\n')[0]}`);
      });
    const status = await visibleText(page.locator('#link-status'), '#link-status');
    assert.equal(status, `“${DEVICE_NAME}” is now linked to your account.`);
    assert.equal(await page.locator('#link-qr').getAttribute('data-status'), 'linked');
    assert.match((await page.locator('#qr-image').getAttribute('class')) ?? '', /\bused\b/, 'the QR code is greyed out');
    assert.equal(await page.locator('#cancel-form').isVisible(), false, 'nothing left to cancel');
  });

  await step('full-page screenshot of the linked page', async () => {
    await page.screenshot({ path: join(SCREENSHOTS, 'link-linked.png'), fullPage: true });
  });
});
