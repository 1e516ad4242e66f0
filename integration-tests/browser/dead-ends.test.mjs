// Real-browser replay of the recovery paths that used to end in a dead end (see
// docs/i18n.md and README): a phone locked by wrong secret codes, the e-mail's "This was
// not me" link opened while signed out, unlocking and renaming the device in the browser,
// the device list at 1280 and 375 px, the sign-out notice, and cancelling the
// re-authentication of "Unlink my device". Each ends where the citizen expected.
//
// Run through run.sh (after manage.test.mjs: marie is registered by then, or registers here).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  IDP,
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
const SECRET_CODE = '482913';
const NAME = 'Spare phone';
const RENAMED = 'Spare phone in the drawer';

before(async () => {
  await prepareScreenshots();
});

/** Runs the reference client; resolves to { code, stdout, stderr } whatever its exit. */
async function client(args) {
  const env = { ...process.env };
  delete env.DEVICELINK_CONFIG;
  delete env.DEVICELINK_SECRET_CODE;
  try {
    const { stdout, stderr } = await promisify(execFile)(DEVICELINK_BIN, args, {
      timeout: 60_000,
      encoding: 'utf8',
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function reachDashboard(step, page) {
  await step('reach the dashboard (registering if this is the first sign-in)', async () => {
    if (new URL(page.url()).pathname === '/register') {
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
    }
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' });
  });
}

async function signOut(step, page) {
  await step('sign out from the header', async () => {
    await page.locator('form[action="/auth/logout"] button').first().click();
    await page.waitForURL(onOrigin(PORTAL, '/'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`signing out did not end on the home page: ${err.message.split('\n')[0]}`);
    });
  });
}

test('a locked phone, the e-mail link while signed out, unlock, rename, sizes, sign-out and a cancelled re-authentication', async (t) => {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'dead-ends');
  const work = await mkdtemp(join(tmpdir(), 'devicelink-dead-ends-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const state = join(work, 'spare.json');
  let id = '';

  await startSignIn(step, page);
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile');
  await reachDashboard(step, page);

  await step('"My devices" is in the header', async () => {
    await visibleText(page.locator('#my-devices'), '#my-devices');
  });

  await step(`link "${NAME}" with the reference client`, async () => {
    await page.goto(new URL('/devices/link', PORTAL).href);
    const scope = await visibleText(page.locator('#link-scope'), '#link-scope');
    assert.match(scope, /whole account/, `the link page says what linking covers: "${scope}"`);
    const box = page.locator('#link-qr');
    const linkId = await box.getAttribute('data-link-id');
    const code = await box.getAttribute('data-code');
    const png = await page.request.get(
      new URL(`/devices/link/${encodeURIComponent(linkId)}/qr.png?c=${encodeURIComponent(code)}`, PORTAL).href,
    );
    assert.equal(png.status(), 200);
    const qr = join(work, 'qr.png');
    await writeFile(qr, await png.body());
    const out = await client(['device', 'link', '--server', PORTAL.origin, '--name', NAME, '--qr', qr,
      '--secret-code', SECRET_CODE, '--skip-biometrics', '--state', state]);
    assert.equal(out.code, 0, `device link failed: ${out.stderr}`);
    id = JSON.parse(await readFile(state, 'utf8')).device_id;
    assert.match(id, /^[0-9a-f-]{36}$/);
  });

  await step('five wrong secret codes lock the phone, and the app says how to unlock it', async () => {
    let last = null;
    for (let i = 0; i < 5; i += 1) {
      last = await client(['device', 'unlock', '--secret-code', '000001', '--state', state]);
      assert.notEqual(last.code, 0, 'a wrong code is refused');
    }
    assert.match(last.stderr, /device_locked/, last.stderr);
    assert.match(last.stderr, /Unlock it in your browser: sign in, open My devices and choose “Unlock this device”/, last.stderr);
  });

  await signOut(step, page);
  await step('the home page says "You have signed out."', async () => {
    const notice = await visibleText(page.locator('#notice'), '#notice');
    assert.equal(notice, 'You have signed out.');
  });

  await step('the e-mail link opened while signed out asks to sign in and keeps the page', async () => {
    await page.goto(new URL(`/devices?device=${id}`, PORTAL).href);
    await page.waitForURL(onOrigin(PORTAL, '/'), { waitUntil: 'load' });
    const notice = await visibleText(page.locator('#notice'), '#notice');
    assert.equal(notice, 'Sign in to continue.');
    const href = await page.locator('#sign-in').getAttribute('href');
    assert.equal(href, `/auth/login?next=${encodeURIComponent(`/devices?device=${id}`)}`);
    await page.locator('#sign-in').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' });
  });
  await step('sign in at eAccess; managing devices then asks eAccess again (prompt=login)', async () => {
    const again = page.waitForResponse((r) => {
      const u = new URL(r.url());
      return u.origin === IDP.origin && u.searchParams.get('prompt') === 'login';
    });
    await page.locator('input[name="identity"][value="marie"]').check();
    await page.locator('input[name="product"][value="luxtrust_mobile"]').check();
    await page.locator('button[name="action"][value="continue"]').click();
    await page.locator('button[name="action"][value="approve"]').waitFor({ state: 'visible' });
    await page.locator('button[name="action"][value="approve"]').click();
    await again;
    await page.waitForLoadState('load');
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' });
  });
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile', onOrigin(PORTAL, '/devices'));

  await step('the device list opens with the phone preselected, locked, with "Unlock this device"', async () => {
    assert.equal(new URL(page.url()).searchParams.get('device'), id, `at ${page.url()}`);
    assert.equal(await page.locator(`#pick-${id}`).isChecked(), true, 'the phone of the e-mail is ticked');
    const row = page.locator(`#device-${id}`);
    assert.match(await row.innerText(), /Locked/);
    await visibleText(page.locator('#locked-hint'), '#locked-hint');
  });

  await step('the list fits at 1280 px and becomes cards at 375 px, state always visible', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const fits = await page.locator('.table-wrap').first().evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
    assert.ok(fits, 'the device table is not wider than its column at 1280 px');
    await page.screenshot({ path: join(SCREENSHOTS, 'dead-ends-devices-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    const state = page.locator(`#device-${id} td[data-label="State"]`);
    const box = await state.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `State is on screen at 375 px: ${JSON.stringify(box)}`);
    const bio = await page.locator(`#device-${id} td[data-label="Biometrics"]`).boundingBox();
    assert.ok(bio && bio.x + bio.width <= 375, `Biometrics is on screen at 375 px: ${JSON.stringify(bio)}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'dead-ends-devices-375.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('"Unlock this device" unlocks it, and the app opens again with its code', async () => {
    await page.locator(`#unlock-${id}-button`).click();
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' });
    const notice = await visibleText(page.locator('#device-notice'), '#device-notice');
    assert.equal(notice, 'The device is unlocked. Open the app and enter your secret code.');
    assert.match(await page.locator(`#device-${id}`).innerText(), /Active/);
    const out = await client(['device', 'unlock', '--secret-code', SECRET_CODE, '--state', state]);
    assert.equal(out.code, 0, `the app unlocks with its code again: ${out.stderr}`);
  });

  await step('rename the phone', async () => {
    await page.locator(`#device-${id} details.rename summary`).click();
    await page.locator(`#name-${id}`).fill(RENAMED);
    await page.locator(`#device-${id} details.rename button`).click();
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' });
    assert.equal(await visibleText(page.locator('#device-notice'), '#device-notice'), 'The device was renamed.');
    assert.equal((await page.locator(`label[for="pick-${id}"]`).innerText()).trim(), RENAMED);
  });

  await signOut(step, page);
  await startSignIn(step, page);
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile');
  await reachDashboard(step, page);

  await step('cancelling the re-authentication of "Unlink my device" goes back to the account', async () => {
    await page.goto(new URL('/devices/link', PORTAL).href);
    await page.locator('#unlink-my-device').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' });
    await page.locator('button[name="action"][value="cancel"]').click();
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`cancelling did not lead back to the dashboard: ${err.message.split('\n')[0]}`);
    });
    const notice = await visibleText(page.locator('#notice'), '#notice');
    assert.equal(notice, 'You cancelled the authentication; your devices are unchanged.');
    await visibleText(page.locator('#my-devices'), 'the session menu (#my-devices)');
  });
});
