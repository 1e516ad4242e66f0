// Helpers of the phone web app's browser tests (app*.test.mjs): a phone-sized Chromium with
// touch, a fake camera that films a screenshot, and a CDP virtual authenticator that
// performs user verification; plus the desktop portal steps the scenarios share.

import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { CHROMIUM, HERE, PORTAL, SCREENSHOTS, STEP_TIMEOUT_MS, loginAtMock, onOrigin, startSignIn } from './harness.mjs';

/** The app runs on the WebAuthn origin (`webauthn.web_origin`: localhost, the demo's rp_id). */
export const APP = new URL(
  process.env.APP_URL ?? `${PORTAL.protocol}//localhost${PORTAL.port ? `:${PORTAL.port}` : ''}/app/`,
);
export const DEMO_PORTAL = new URL(process.env.DEMO_PORTAL_URL ?? 'http://127.0.0.1:8090/');
/** With APP_DOCS_SCREENSHOTS=1 the app's screens are also copied into docs/app/. */
const DOCS = process.env.APP_DOCS_SCREENSHOTS ? join(HERE, '..', '..', 'docs', 'app') : null;

const PHONE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

/**
 * A phone: a fresh profile, 390×844 viewport with touch, French-speaking unless `locale` says
 * otherwise, a camera filming `video` (an MJPEG file, see `filmOf`), and a virtual platform
 * authenticator with user verification (`authenticator: false` for a phone without one).
 */
export async function openPhone(t, { video, locale = 'en-GB', authenticator = true } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'devicelink-phone-'));
  const args = [...PHONE_ARGS];
  if (video) args.push(`--use-file-for-fake-video-capture=${video}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale,
    permissions: ['camera'],
    timeout: 60_000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  let cdp = null;
  let authenticatorId = null;
  if (authenticator) {
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        ctap2Version: 'ctap2_1',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }));
  }
  t.after(async () => {
    for (const p of problems) t.diagnostic(`phone: ${p}`);
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  });
  return {
    context,
    page,
    problems,
    /** The passkeys the virtual authenticator holds. */
    credentials: async () =>
      authenticatorId ? (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials : [],
  };
}

/**
 * Films `locator` for the fake camera: a JPEG screenshot of it on a white margin, written as
 * a one-frame MJPEG file (Chromium loops it). Even width and height, as the decoder wants.
 */
export async function filmOf(page, locator, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  const box = await locator.boundingBox();
  assert.ok(box, 'the QR code has no box on the page');
  const margin = 40;
  const even = (n) => Math.ceil(n / 2) * 2;
  const clip = {
    x: Math.max(0, Math.floor(box.x - margin)),
    y: Math.max(0, Math.floor(box.y - margin)),
    width: even(box.width + 2 * margin),
    height: even(box.height + 2 * margin),
  };
  const jpeg = await page.screenshot({ type: 'jpeg', quality: 92, clip });
  const file = join(SCREENSHOTS, `${name}.mjpeg`);
  await writeFile(file, jpeg);
  await writeFile(join(SCREENSHOTS, `${name}.jpg`), jpeg);
  return file;
}

/** Saves the phone's screen as screenshots/app-<name>.png (and docs/app/ when asked). */
export async function screen(page, name) {
  const file = join(SCREENSHOTS, `app-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (DOCS) {
    await mkdir(DOCS, { recursive: true });
    await copyFile(file, join(DOCS, `${name}.png`));
  }
}

/** Signs `identity` in to the portal on the desktop (registering on the first sign-in). */
export async function signInToPortal(step, page, identity = 'marie', product = 'luxtrust_mobile') {
  await startSignIn(step, page);
  await loginAtMock(step, page, identity, product);
  await step('reach the dashboard (registering if needed)', async () => {
    if (new URL(page.url()).pathname === '/register') {
      await page.locator('input[name="accept_terms"]').check();
      await page.locator('#register').click();
    }
    await page.waitForURL(onOrigin(PORTAL, '/dashboard'), { waitUntil: 'load' });
  });
}

/** Opens "Link a device" on the desktop and films its QR code; the MJPEG file's path. */
export async function filmLinkCode(step, page, name) {
  return step('"Link a device" shows a QR code; film it for the phone', async () => {
    await page.goto(new URL('/devices/link', PORTAL).href);
    const img = page.locator('#qr-image');
    await img.waitFor({ state: 'visible' });
    return filmOf(page, img, name);
  });
}

/** Opens the app on the phone and waits for its first screen. */
export async function openApp(page, screenName) {
  await page.goto(APP.href);
  await page.locator(`section[data-screen="${screenName}"]`).waitFor({ state: 'visible' });
}

/** The visible screen's name. */
export const currentScreen = (page) => page.locator('body').getAttribute('data-screen');

/** Waits for the screen `name` to be the visible one. */
export async function onScreen(page, name) {
  await page.locator(`section[data-screen="${name}"]`).waitFor({ state: 'visible' }).catch(async (err) => {
    const now = await currentScreen(page).catch(() => '?');
    const text = await page.locator('main').innerText().catch(() => '');
    throw new Error(`screen "${name}" did not appear (showing "${now}": ${text.replace(/\s+/g, ' ').slice(0, 300)}): ${err.message.split('\n')[0]}`);
  });
}

/** Types a 6-digit code into an input the way a phone's numeric pad does (taps). */
export async function typeCode(page, selector, code) {
  await page.locator(selector).fill('');
  await page.locator(selector).pressSequentially(code);
}

/** From "Link your device" to the camera: name, method QR, continue. */
export async function startQrLink(step, page, deviceName) {
  await step('home: "Link your device"', async () => {
    await screen(page, '01-home');
    await page.locator('#link-start').tap();
    await onScreen(page, 'name');
  });
  await step('device name', async () => {
    await page.locator('#device-name').fill(deviceName);
    await screen(page, '02-device-name');
    await page.locator('#name-form button[type="submit"]').tap();
    await onScreen(page, 'method');
  });
  await step('method: QR code, continue', async () => {
    await page.locator('input[name="method"][value="qr"]').check();
    await screen(page, '03-method');
    await page.locator('#method-form button[type="submit"]').tap();
    await onScreen(page, 'camera');
  });
}

/** Chooses a secret code (typed twice) and waits for `next`. */
export async function chooseCode(page, code, next = 'biometrics') {
  await typeCode(page, '#code-1', code);
  await typeCode(page, '#code-2', code);
  await page.locator('#code-form button[type="submit"]').tap();
  if (next) await onScreen(page, next);
}

/** Unlocks with the secret code; waits for the account screen. */
export async function unlockWithCode(page, code) {
  await onScreen(page, 'unlock');
  await typeCode(page, '#unlock-code', code);
  await page.locator('#unlock-form button[type="submit"]').tap();
  await onScreen(page, 'account');
  await page.locator('#me-name').filter({ hasText: /\S/ }).waitFor();
}
