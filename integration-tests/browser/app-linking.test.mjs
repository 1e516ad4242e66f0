// Real-browser tests of the phone web app (/app/, docs/app.md), part 2: the other ways through
// linking. QR code with "Skip this step" after a weak code refused on the same scan; the same QR
// code scanned by a second phone (qr_code_already_used); five wrong codes lock the device, and
// "Forgot your code?" with LuxTrust Mobile sets a new code that opens it again; the
// LuxTrust method, its refusal for a citizen who never registered, and the app's languages.
//
// Run through run.sh (it starts `devicelink demo`); see app.test.mjs for the two browsers.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { loginAtMock, onOrigin, openBrowser, prepareScreenshots, stepper, visibleText } from './harness.mjs';
import {
  APP,
  chooseCode,
  filmLinkCode,
  onScreen,
  openApp,
  openPhone,
  screen,
  signInToPortal,
  startQrLink,
  typeCode,
  unlockWithCode,
} from './app-helpers.mjs';

before(async () => {
  await prepareScreenshots();
});

/** Scans with the fake camera from the camera screen. */
async function scan(page) {
  await page.locator('#camera-allow').tap();
  await onScreen(page, 'scan');
}

test('a weak code is refused on the same scan, a reused QR code is refused, five wrong codes lock the device', async (t) => {
  const desktop = await openBrowser(t);
  const step = stepper(t, desktop.page, 'app-qr-skip');
  await signInToPortal(step, desktop.page);
  const film = await filmLinkCode(step, desktop.page, 'app-link-qr-2');

  // This phone has no platform authenticator: "Activate biometrics" says so, "Skip" remains.
  const phone = await openPhone(t, { video: film, authenticator: false });
  const { page } = phone;
  const pstep = stepper(t, page, 'app-qr-skip-phone');
  await pstep('open the app', () => openApp(page, 'home'));
  await startQrLink(pstep, page, 'Tablet');
  await pstep('scan the QR code', async () => {
    await scan(page);
    await onScreen(page, 'code');
  });

  await pstep('a weak code is refused with the server’s sentence; the scan is kept', async () => {
    await chooseCode(page, '123456', null);
    const error = page.locator('#code-error');
    await error.locator('[data-code="weak_secret_code"]').waitFor();
    assert.match(await visibleText(error, '#code-error'), /too easy to guess/);
    await screen(page, '06b-secret-code-weak');
    assert.equal(await page.locator('#code-1').inputValue(), '', 'the inputs are emptied for another try');
  });

  await pstep('codes that differ are caught before any request', async () => {
    await typeCode(page, '#code-1', '582047');
    await typeCode(page, '#code-2', '582048');
    await page.locator('#code-form button[type="submit"]').tap();
    await page.locator('#code-error').filter({ hasText: 'The two codes differ' }).waitFor();
  });

  await pstep('another code is accepted on the same scan; "Skip this step"', async () => {
    await chooseCode(page, '582047');
    const activate = page.locator('#bio-activate');
    await activate.filter({ hasText: 'This browser offers no biometrics on this device' }).waitFor();
    assert.equal(await activate.isDisabled(), true, 'no biometrics without an authenticator');
    await screen(page, '07b-biometrics-unavailable');
    await page.locator('#bio-skip').tap();
    await onScreen(page, 'success');
  });

  await step('the portal says the device is linked', async () => {
    await desktop.page.locator('#link-status', { hasText: 'is now linked' }).waitFor({ timeout: 20_000 });
  });

  // A second phone films the same (now used) QR code.
  const other = await openPhone(t, { video: film, authenticator: false });
  const ostep = stepper(t, other.page, 'app-qr-reused');
  await ostep('a second phone scanning the used QR code is told so', async () => {
    await openApp(other.page, 'home');
    await other.page.locator('#link-start').tap();
    await other.page.locator('#device-name').fill('Second phone');
    await other.page.locator('#name-form button[type="submit"]').tap();
    await other.page.locator('#method-form button[type="submit"]').tap();
    await onScreen(other.page, 'camera');
    await scan(other.page);
    const error = other.page.locator('#scan-error');
    await error.locator('[data-code="qr_code_already_used"]').waitFor();
    assert.match(await visibleText(error, '#scan-error'), /already been used/);
    await other.page.locator('#scan-again').waitFor({ state: 'visible' });
    await screen(other.page, '05b-scan-already-used');
  });

  await pstep('unlock works with the accepted code; no biometrics button', async () => {
    await page.locator('#back-home').tap();
    await onScreen(page, 'unlock');
    assert.equal(await page.locator('#unlock-bio').isVisible(), false);
    await unlockWithCode(page, '582047');
    assert.equal(await visibleText(page.locator('#me-bio'), '#me-bio'), 'Off');
    await page.locator('#lock').tap();
  });

  await pstep('five wrong codes: the device locks and the app says what to do', async () => {
    await onScreen(page, 'unlock');
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await typeCode(page, '#unlock-code', '000001');
      await page.locator('#unlock-form button[type="submit"]').tap();
      await page
        .locator('#unlock-error .attempts')
        .filter({ hasText: 5 - attempt === 1 ? 'One attempt left' : `${5 - attempt} attempts left` })
        .waitFor();
      if (attempt === 4) await screen(page, '09b-unlock-wrong-code');
    }
    await typeCode(page, '#unlock-code', '000001');
    await page.locator('#unlock-form button[type="submit"]').tap();
    await onScreen(page, 'locked');
    assert.match(await visibleText(page.locator('#locked-sentence'), '#locked-sentence'), /locked/i);
    await page.locator('#link-again').waitFor({ state: 'visible' });
    await screen(page, '15-locked');
  });

  await pstep('reopened, the app still says the device is locked', async () => {
    await page.reload();
    await onScreen(page, 'unlock');
    await typeCode(page, '#unlock-code', '582047');
    await page.locator('#unlock-form button[type="submit"]').tap();
    await onScreen(page, 'locked');
  });

  await pstep('"Forgot your code?": choose LuxTrust Mobile, go to eAccess', async () => {
    await page.locator('#link-again').waitFor({ state: 'visible' });
    await page.locator('#locked-forgot').tap();
    await onScreen(page, 'luxtrust');
    assert.match(await visibleText(page.locator('#luxtrust-help'), '#luxtrust-help'), /new secret code/);
    await screen(page, '15b-forgot-code');
    await page.locator('input[name="product"][value="luxtrust_mobile"]').check();
    await page.locator('#luxtrust-form button[type="submit"]').tap();
  });

  await loginAtMock(pstep, page, 'marie', 'luxtrust_mobile', onOrigin(APP));

  await pstep('back in the app: a new code (no biometrics step), and the device opens with it', async () => {
    await onScreen(page, 'code');
    assert.match(await visibleText(page.locator('#bound-to'), '#bound-to'), /Marie Schmit/);
    await chooseCode(page, '306158', 'success');
    assert.match(await visibleText(page.locator('#success-text'), '#success-text'), /new secret code is set/);
    await screen(page, '15c-code-reset');
    await page.locator('#back-home').tap();
    await unlockWithCode(page, '306158');
  });
});

test('the app speaks French by default and German on request, and links with LuxTrust Mobile', async (t) => {
  const phone = await openPhone(t, { locale: 'fr-FR' });
  const { page } = phone;
  const step = stepper(t, page, 'app-luxtrust');
  const languages = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname.startsWith('/api/')) languages.push(req.headers()['accept-language']);
  });

  await step('French first (the browser’s language), German from the switcher', async () => {
    await openApp(page, 'home');
    assert.equal(await page.locator('html').getAttribute('lang'), 'fr');
    assert.equal(await visibleText(page.locator('#link-start'), '#link-start'), 'Lier votre appareil');
    await page.locator('#language').selectOption('de');
    await page.locator('#link-start', { hasText: 'Ihr Gerät verknüpfen' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    await page.reload();
    await page.locator('#link-start', { hasText: 'Ihr Gerät verknüpfen' }).waitFor();
  });

  await step('name, method LuxTrust, product LuxTrust Mobile (in German)', async () => {
    await page.locator('#link-start').tap();
    await page.locator('#device-name').fill('Telefon');
    await page.locator('#name-form button[type="submit"]').tap();
    await page.locator('input[name="method"][value="luxtrust"]').check();
    await page.locator('#method-form button[type="submit"]').tap();
    await onScreen(page, 'luxtrust');
    await page.locator('#language').selectOption('en');
    await page.locator('section[data-screen="luxtrust"] h1', { hasText: 'LuxTrust product' }).waitFor();
    await screen(page, '03b-luxtrust-product');
    // Back to German: the link is started in German (Accept-Language: de).
    await page.locator('#language').selectOption('de');
    await page.locator('section[data-screen="luxtrust"] h1', { hasText: 'LuxTrust-Produkt' }).waitFor();
    await page.locator('input[name="product"][value="luxtrust_mobile"]').check();
    await page.locator('#luxtrust-form button[type="submit"]').tap();
  });

  await loginAtMock(step, page, 'marie', 'luxtrust_mobile', onOrigin(APP));

  await step('back in the app: the link is bound to Marie; code, biometrics', async () => {
    await onScreen(page, 'code');
    await page.locator('#language').selectOption('en');
    await page.locator('section[data-screen="code"] h1', { hasText: 'Secret code' }).waitFor();
    assert.match(await visibleText(page.locator('#bound-to'), '#bound-to'), /Marie Schmit/);
    assert.equal(new URL(page.url()).hash, '', 'the one-time result left the address bar');
    await chooseCode(page, '640283');
    await page.locator('#bio-activate').tap();
    await onScreen(page, 'success');
    assert.equal((await phone.credentials()).length, 1);
  });

  await step('every API call said the chosen language', async () => {
    assert.ok(languages.length > 0);
    assert.ok(languages.includes('de') && languages.includes('en'), `Accept-Language: ${languages}`);
  });

  // Luc never registered on the portal: eAccess authenticates him, devicelink refuses the link.
  const refused = await openPhone(t, { authenticator: false });
  const rstep = stepper(t, refused.page, 'app-luxtrust-refused');
  await rstep('Luc, not registered, is told to register in a browser first', async () => {
    const p = refused.page;
    await openApp(p, 'home');
    await p.locator('#link-start').tap();
    await p.locator('#device-name').fill('Luc phone');
    await p.locator('#name-form button[type="submit"]').tap();
    await p.locator('input[name="method"][value="luxtrust"]').check();
    await p.locator('#method-form button[type="submit"]').tap();
    await p.locator('#luxtrust-form button[type="submit"]').tap();
  });
  await loginAtMock(rstep, refused.page, 'luc', 'luxtrust_mobile', onOrigin(APP));
  await rstep('the refusal is shown with its sentence', async () => {
    const error = refused.page.locator('#returning-error');
    await error.locator('[data-code="account_not_registered"]').waitFor();
    assert.match(await visibleText(error, '#returning-error'), /register on the portal in a web browser/);
    await screen(refused.page, '05c-luxtrust-refused');
  });
});

test('the app is usable at 320 px with the keyboard only, and its shell opens offline', async (t) => {
  const phone = await openPhone(t, { authenticator: false });
  const { page, context } = phone;
  await page.setViewportSize({ width: 320, height: 640 });
  const step = stepper(t, page, 'app-keyboard');
  const fits = async (what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `${what}: the page is ${width} px wide at a 320 px viewport`);
  };

  await step('home → device name → method → camera, with Tab, typing and Enter only', async () => {
    await openApp(page, 'home');
    await fits('home');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'link-start');
    await page.keyboard.press('Enter');
    await onScreen(page, 'name');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'device-name', 'the name field has the focus');
    await page.keyboard.type('Keyboard phone');
    await page.keyboard.press('Enter');
    await onScreen(page, 'method');
    await fits('method');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.value), 'qr');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await onScreen(page, 'camera');
    await fits('camera');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'camera-allow');
  });

  await step('the camera scans continuously (Chromium’s own fake camera films no QR code)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.keyboard.press('Enter');
    await onScreen(page, 'scan');
    await page.waitForFunction(() => {
      const video = document.getElementById('link-video');
      return video.readyState >= 2 && video.currentTime > 0.5;
    });
    assert.equal(await visibleText(page.locator('#link-hint'), '#link-hint'), 'Hold your device still for a few seconds.');
    await screen(page, '05-scan');
    await page.locator('section[data-screen="scan"] button[data-action="cancel-link"]').press('Enter');
    await onScreen(page, 'home');
  });

  await step('offline, the service worker still opens the app', async () => {
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    // Controlled from now on (the worker claims its clients when it activates).
    await page.reload();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await context.setOffline(true);
    try {
      await page.reload();
      await onScreen(page, 'home');
      assert.equal(await visibleText(page.locator('#link-start'), '#link-start'), 'Link your device');
    } finally {
      await context.setOffline(false);
    }
  });
});
