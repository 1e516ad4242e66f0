// Real-browser walks in French and German: sign-in at the mock eAccess, registration or the
// dashboard, the "Link a device" page, "Unlink my device" (re-authentication, the device list,
// the confirmation, unlinking). Each page must declare its language in <html lang>, show no
// English sentence, and is photographed at 1280 and 375 px (screenshots/lang-<lang>-*.png).
//
// A French browser (Accept-Language fr-LU) gets French without choosing anything; the German
// walk starts in an English browser and switches with the header's language switcher, which
// then holds across eAccess and every page.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { IDP, PORTAL, SCREENSHOTS, onOrigin, openBrowser, prepareScreenshots, stepper } from './harness.mjs';

const DEVICELINK_BIN = process.env.DEVICELINK_BIN;

before(async () => {
  await prepareScreenshots();
});

// English words that French and German text never contains as words. A page of the walk that
// shows one of them has an untranslated sentence (names of people, products and devices are
// chosen not to contain them).
const ENGLISH = /\b(the|your|and|you|with|this|are|is|of|to|sign in|device|devices|back)\b/i;

async function checkPage(page, lang, name) {
  const html = await page.locator('html').getAttribute('lang');
  assert.equal(html, lang, `${name}: <html lang> is "${html}" at ${page.url()}`);
  const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
  const m = text.match(ENGLISH);
  if (m) {
    const at = Math.max(0, m.index - 60);
    assert.fail(`${name} (${lang}) shows English near "…${text.slice(at, m.index + 60)}…" at ${page.url()}`);
  }
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 740 : 800 });
    await page.screenshot({ path: join(SCREENSHOTS, `lang-${lang}-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function linkWithClient(page, work, name, lang) {
  const res = await page.goto(new URL('/devices/link?mode=static', PORTAL).href);
  assert.equal(res?.status(), 200, `/devices/link answered HTTP ${res?.status()}`);
  const box = page.locator('#link-qr');
  const id = await box.getAttribute('data-link-id');
  const code = await box.getAttribute('data-code');
  const png = await page.request.get(
    new URL(`/devices/link/${encodeURIComponent(id)}/qr.png?c=${encodeURIComponent(code)}`, PORTAL).href,
  );
  assert.equal(png.status(), 200);
  const qr = join(work, `${lang}.png`);
  await writeFile(qr, await png.body());
  const env = { ...process.env, DEVICELINK_LANG: lang };
  delete env.DEVICELINK_CONFIG;
  const { stdout } = await promisify(execFile)(
    DEVICELINK_BIN,
    ['device', 'link', '--server', PORTAL.origin, '--name', name, '--qr', qr, '--secret-code', '482913',
      '--skip-biometrics', '--state', join(work, `${lang}.json`)],
    { timeout: 60_000, encoding: 'utf8', env },
  );
  return stdout;
}

async function loginAtMock(step, page, identity, product) {
  await step(`choose ${identity} with ${product} at the mock eAccess`, async () => {
    await page.locator(`input[name="identity"][value="${identity}"]`).check();
    await page.locator(`input[name="product"][value="${product}"]`).check();
    await page.locator('button[name="action"][value="continue"]').click();
    await page.locator('button[name="action"][value="approve"]').waitFor({ state: 'visible' });
    if (product === 'luxtrust_scan') {
      await page.locator('input[name="otp"]').fill((await page.locator('#scan-code').innerText()).trim());
    } else if (product === 'eid_card') {
      await page.locator('input[name="pin"]').fill('123456');
    }
  });
}

async function walk(t, { lang, identity, product, deviceName, switchTo }) {
  assert.ok(DEVICELINK_BIN, 'DEVICELINK_BIN must name the devicelink binary (run.sh exports it)');
  // The browser's own language (its Accept-Language): French, or English before switching.
  const { page } = await openBrowser(t, { locale: switchTo ? 'en-GB' : `${lang}-LU` });
  const step = stepper(t, page, `lang-${lang}`);
  const work = await mkdtemp(join(tmpdir(), `devicelink-lang-${lang}-`));
  t.after(() => rm(work, { recursive: true, force: true }));

  await step('the home page', async () => {
    await page.goto(PORTAL.href);
    if (switchTo) {
      assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'an English browser starts in English');
      await page.locator('#lang-select').selectOption(lang);
      await page.locator('.lang-switcher button[type="submit"]').click();
      await page.waitForURL(onOrigin(PORTAL, '/'), { waitUntil: 'load' });
    }
    await checkPage(page, lang, 'home');
  });
  await step('sign in: the mock eAccess speaks the language too', async () => {
    await page.locator('#sign-in').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' });
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' });
    await checkPage(page, lang, 'eaccess-login');
  });
  await loginAtMock(step, page, identity, product);
  await step('the product step, then back at the portal', async () => {
    await checkPage(page, lang, 'eaccess-step');
    await page.locator('button[name="action"][value="approve"]').click();
    await page.waitForURL(onOrigin(PORTAL), { waitUntil: 'load' });
  });
  await step('registration (first sign-in), then the dashboard', async () => {
    if (new URL(page.url()).pathname === '/register') {
      await checkPage(page, lang, 'register');
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
    }
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' });
    await checkPage(page, lang, 'dashboard');
  });
  await step('the "Link a device" page', async () => {
    await page.locator('#link-device').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices/link'), { waitUntil: 'load' });
    await page.locator('#link-qr').waitFor({ state: 'visible' });
    await checkPage(page, lang, 'link');
  });
  await step('a phone links with the reference client (in the same language)', async () => {
    const out = await linkWithClient(page, work, deviceName, lang);
    t.diagnostic(`device client: ${out.trim().replace(/\n/g, ' | ')}`);
  });
  await step('"Unlink my device": authenticate again at eAccess', async () => {
    await page.goto(new URL('/devices/link', PORTAL).href);
    await page.locator('#unlink-my-device').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' });
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' });
  });
  await loginAtMock(step, page, identity, product);
  await step('the device list', async () => {
    await page.locator('button[name="action"][value="approve"]').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' });
    await checkPage(page, lang, 'devices');
  });
  await step('tick the phone, review and confirm', async () => {
    const box = page.locator('input[type="checkbox"][name="device"]').first();
    await box.check();
    await page.locator('#unlink-selected').click();
    await page.locator('#confirm-unlink').waitFor({ state: 'visible' });
    await checkPage(page, lang, 'confirm');
    await page.locator('#confirm-unlink').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices'), { waitUntil: 'load' });
    await checkPage(page, lang, 'unlinked');
  });
}

test('a French browser walks sign-in, registration, linking and unlinking in French', async (t) => {
  await walk(t, { lang: 'fr', identity: 'jean', product: 'luxtrust_scan', deviceName: 'Téléphone de Jean' });
});

test('an English browser switches to German and walks the same path in German', async (t) => {
  await walk(t, { lang: 'de', identity: 'sophie', product: 'eid_card', deviceName: 'Sophies Handy', switchTo: true });
});
