// Real-browser test of "Unlink my device": two phones are linked with the reference client,
// the citizen re-authenticates at the mock eAccess, sees both devices, unlinks one after a
// confirmation page, and the list and the activity show it. The unlinked installation can
// then link again with its old device key.
//
// Run through run.sh, which starts `devicelink demo` and exports DEVICELINK_BIN (the binary
// whose `device link` subcommand plays the phones). See README.md.

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
const UNLINKED = 'Work phone';
const KEPT = 'Home tablet';

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

/** Runs the reference client; resolves to its stdout or fails with its exit code and output. */
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
      `${DEVICELINK_BIN} ${args.join(' ')} failed (exit ${err.code ?? err.signal}):\n  stdout: ${err.stdout}\n  stderr: ${err.stderr}`,
    );
  }
}

/**
 * Opens /devices/link?new=1 ("Generate a new QR code": a fresh code on each visit) and saves the current QR frame as a PNG,
 * fetched with the page's cookies from /devices/link/{id}/qr.png?c=<code>.
 */
async function freshQrPng(page, path) {
  const res = await page.goto(new URL('/devices/link?new=1', PORTAL).href);
  assert.equal(res?.status(), 200, `/devices/link answered HTTP ${res?.status()}`);
  const box = page.locator('#link-qr');
  await box.waitFor({ state: 'visible' });
  const id = await box.getAttribute('data-link-id');
  const code = await box.getAttribute('data-code');
  assert.ok(id && code, `#link-qr should carry data-link-id and data-code (has "${id}", "${code}")`);
  const png = await page.request.get(
    new URL(`/devices/link/${encodeURIComponent(id)}/qr.png?c=${encodeURIComponent(code)}`, PORTAL).href,
    { timeout: 10_000 },
  );
  assert.equal(png.status(), 200, `the QR PNG answered HTTP ${png.status()}`);
  assert.match(png.headers()['content-type'] ?? '', /^image\/png/, 'the QR PNG should be image/png');
  await writeFile(path, await png.body());
  return id;
}

/** Links a device with the reference client from a PNG; returns the device id it reports. */
async function linkWithClient(t, name, qr, state) {
  const stdout = await runDeviceClient([
    'device', 'link',
    '--server', PORTAL.origin,
    '--name', name,
    '--qr', qr,
    '--secret-code', SECRET_CODE,
    '--skip-biometrics',
    '--state', state,
  ]);
  t.diagnostic(`device client (${name}): ${stdout.trim().replace(/\n/g, ' | ')}`);
  const m = stdout.match(new RegExp(`Linked “${name}” to the account of Marie Schmit \\(device id ([0-9a-f-]{36})\\)`));
  assert.ok(m, `the client should report "${name}" linked to Marie Schmit, printed: ${stdout}`);
  const saved = JSON.parse(await readFile(state, 'utf8'));
  assert.equal(saved.device_id, m[1], 'the state file should hold the reported device id');
  return { id: m[1], stdout };
}

async function deviceRows(page) {
  const rows = page.locator('#devices tbody tr');
  const out = [];
  for (let i = 0; i < (await rows.count()); i += 1) {
    const row = rows.nth(i);
    out.push({
      rowId: await row.getAttribute('id'),
      value: await row.locator('input[type="checkbox"][name="device"]').getAttribute('value'),
      label: (await row.locator('label').innerText()).trim(),
    });
  }
  return out;
}

async function activity(page) {
  const rows = page.locator('#activity tbody tr');
  return (await rows.allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
}

test('unlink my device: re-authenticate, pick one of two phones, confirm, and it is gone', async (t) => {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'manage');
  const work = await mkdtemp(join(tmpdir(), 'devicelink-manage-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const qr = join(work, 'qr.png');
  const stateOf = { [UNLINKED]: join(work, 'work-phone.json'), [KEPT]: join(work, 'home-tablet.json') };
  const ids = {};
  // Other test files (link.test.mjs) may have linked devices of marie's before: compare with
  // the list as it was, not with an empty account.
  let listedBefore = [];

  await startSignIn(step, page);
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile');

  await step('reach the dashboard (registering if this is the first sign-in)', async () => {
    if (new URL(page.url()).pathname === '/register') {
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
    }
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`signing in did not lead to /dashboard: ${err.message.split('\n')[0]}`);
    });
  });

  for (const name of [UNLINKED, KEPT]) {
    await step(`link "${name}" with the reference client (fresh QR code)`, async () => {
      await freshQrPng(page, qr);
      ids[name] = (await linkWithClient(t, name, qr, stateOf[name])).id;
    });
  }
  assert.notEqual(ids[UNLINKED], ids[KEPT], 'two installations should get two device ids');

  await step('"Unlink my device" asks to authenticate again at eAccess', async () => {
    await page.goto(new URL('/devices/link', PORTAL).href);
    await page.locator('#unlink-my-device').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`"Unlink my device" did not lead to the mock eAccess: ${err.message.split('\n')[0]}`);
    });
    // prompt=login: the login form again, despite the eAccess session from the sign-in.
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' }).catch(() => {
      throw new Error('the mock eAccess did not show its login form for the re-authentication');
    });
  });
  await loginAtMock(step, page, 'marie', 'luxtrust_mobile');

  await step('back on /devices, both phones are listed', async () => {
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`the re-authentication did not lead to /devices: ${err.message.split('\n')[0]}`);
    });
    await page.locator('#devices').waitFor({ state: 'visible' }).catch(() => {
      throw new Error('no device table (#devices) on /devices');
    });
    const rows = await deviceRows(page);
    listedBefore = rows;
    for (const name of [UNLINKED, KEPT]) {
      const row = rows.find((r) => r.value === ids[name]);
      assert.ok(row, `"${name}" (${ids[name]}) should be listed: ${JSON.stringify(rows)}`);
      assert.equal(row.rowId, `device-${ids[name]}`, `row id of "${name}"`);
      assert.equal(row.label, name, `label of ${ids[name]}`);
    }
    assert.equal(await page.locator('#unlinked-notice').count(), 0, 'no unlink notice before unlinking');
    const events = await activity(page);
    for (const name of [UNLINKED, KEPT]) {
      assert.ok(
        events.some((e) => e.includes(`Device “${name}” linked`)),
        `#activity should show "Device “${name}” linked": ${JSON.stringify(events.slice(0, 10))}`,
      );
    }
  });

  await step(`tick "${UNLINKED}" and review`, async () => {
    await page.getByLabel(`Unlink ${UNLINKED}`, { exact: true }).check();
    assert.equal(await page.locator(`#pick-${ids[KEPT]}`).isChecked(), false, `"${KEPT}" must stay unticked`);
    await page.locator('#unlink-selected').click();
    await page.locator('#confirm-unlink').waitFor({ state: 'visible' }).catch(() => {
      throw new Error('"Unlink the selected devices" did not show the confirmation (#confirm-unlink)');
    });
    const items = (await page.locator('#to-unlink li').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
    assert.equal(items.length, 1, `#to-unlink should list exactly one device: ${JSON.stringify(items)}`);
    assert.match(items[0], new RegExp(`^${UNLINKED} \\(linked on \\d{1,2} [A-Z][a-z]+ \\d{4}, \\d\\d:\\d\\d\\)$`));
  });

  await step('confirm: back on /devices with the notice', async () => {
    await page.locator('#confirm-unlink').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`confirming did not lead back to /devices: ${err.message.split('\n')[0]}`);
    });
    assert.equal(new URL(page.url()).searchParams.get('unlinked'), '1', `expected ?unlinked=1, at ${page.url()}`);
    const notice = await visibleText(page.locator('#unlinked-notice'), '#unlinked-notice');
    assert.match(notice, /^1 device unlinked\. It can no longer open the app/, `#unlinked-notice reads "${notice}"`);
  });

  await step(`only "${KEPT}" remains and the activity shows the unlink`, async () => {
    const rows = await deviceRows(page);
    const expected = listedBefore.filter((r) => r.value !== ids[UNLINKED]);
    assert.deepEqual(
      rows.map((r) => [r.value, r.label]),
      expected.map((r) => [r.value, r.label]),
      `all but "${UNLINKED}" (${ids[UNLINKED]}) should remain, in the same order: ${JSON.stringify(rows)}`,
    );
    assert.ok(rows.some((r) => r.value === ids[KEPT]), `"${KEPT}" should remain: ${JSON.stringify(rows)}`);
    const events = await activity(page);
    assert.ok(
      events.some((e) => e.includes(`Device “${UNLINKED}” unlinked (from the browser)`)),
      `#activity should show "Device “${UNLINKED}” unlinked (from the browser)": ${JSON.stringify(events.slice(0, 10))}`,
    );
    assert.ok(
      !events.some((e) => e.includes(`Device “${KEPT}” unlinked`)),
      `"${KEPT}" must not be reported unlinked: ${JSON.stringify(events.slice(0, 10))}`,
    );
  });

  await step('full-page screenshot of the devices page', async () => {
    await page.screenshot({ path: join(SCREENSHOTS, 'devices.png'), fullPage: true });
  });

  await step(`the unlinked "${UNLINKED}" links again with its old device key`, async () => {
    await freshQrPng(page, qr);
    const { id, stdout } = await linkWithClient(t, UNLINKED, qr, stateOf[UNLINKED]);
    assert.match(stdout, /Device key reused from the state file\./, 'the client should reuse the old key');
    t.diagnostic(`relinked "${UNLINKED}": device id ${id} (was ${ids[UNLINKED]})`);
    await page.goto(new URL('/devices', PORTAL).href);
    assert.equal(new URL(page.url()).pathname, '/devices', `/devices redirected to ${page.url()}`);
    const rows = await deviceRows(page);
    assert.equal(rows.length, listedBefore.length, `as many devices as before the unlink: ${JSON.stringify(rows)}`);
    assert.deepEqual(
      rows.filter((r) => r.label === UNLINKED || r.label === KEPT).map((r) => r.label).sort(),
      [KEPT, UNLINKED].sort(),
      `both devices should be listed again: ${JSON.stringify(rows)}`,
    );
    assert.ok(rows.some((r) => r.value === id), `the relinked device (${id}) should be listed: ${JSON.stringify(rows)}`);
  });
});
