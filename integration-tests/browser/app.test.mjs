// Real-browser tests of the phone web app (/app/, docs/app.md), part 1: linking by QR code with
// biometrics, then the app's daily life: unlock by code and by biometrics, approve the demo
// portal's sign-in, change the code, unlink from the app.
//
// Two browsers at once: a desktop one for the portal and a phone (390×844, touch) whose fake
// camera films a screenshot of the portal's QR code, with a CDP virtual authenticator that
// performs user verification. Run through run.sh (it starts `devicelink demo`).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { PORTAL, onOrigin, openBrowser, prepareScreenshots, stepper, visibleText } from './harness.mjs';
import {
  DEMO_PORTAL,
  chooseCode,
  filmLinkCode,
  filmOf,
  onScreen,
  openApp,
  openPhone,
  screen,
  signInToPortal,
  startQrLink,
  typeCode,
  unlockWithCode,
} from './app-helpers.mjs';

const CONTINUE_TIMEOUT_MS = Number(process.env.LINKED_TIMEOUT_MS ?? 20_000);

before(async () => {
  await prepareScreenshots();
});

test('the app links by QR code with biometrics, unlocks, approves a sign-in, turns biometrics off and on, changes the code and unlinks', async (t) => {
  const desktop = await openBrowser(t);
  const step = stepper(t, desktop.page, 'app-qr-biometrics');
  await signInToPortal(step, desktop.page);
  const film = await filmLinkCode(step, desktop.page, 'app-link-qr');

  const phone = await openPhone(t, { video: film });
  const { page } = phone;
  const pstep = stepper(t, page, 'app-qr-biometrics-phone');
  await pstep('open the app', () => openApp(page, 'home'));
  await startQrLink(pstep, page, 'Marie’s test phone');

  await pstep('the camera is explained; allow it and scan', async () => {
    const why = await visibleText(page.locator('section[data-screen="camera"]'), 'the camera screen');
    assert.match(why, /system settings/i);
    await screen(page, '04-camera');
    await page.locator('#camera-allow').tap();
    await onScreen(page, 'scan');
    await visibleText(page.locator('#link-hint'), 'the hold-still hint');
  });

  await pstep('the scan binds the link to Marie; the secret code screen', async () => {
    await onScreen(page, 'code');
    assert.match(await visibleText(page.locator('#bound-to'), '#bound-to'), /Marie Schmit/);
    await typeCode(page, '#code-1', '482913');
    await typeCode(page, '#code-2', '482913');
    await screen(page, '06-secret-code');
    await page.locator('#code-form button[type="submit"]').tap();
    await onScreen(page, 'biometrics');
  });

  await pstep('"Activate biometrics" registers a passkey', async () => {
    await page.locator('#bio-activate:not([disabled])').waitFor();
    await screen(page, '07-biometrics');
    await page.locator('#bio-activate').tap();
    await onScreen(page, 'success');
    assert.equal(
      await visibleText(page.locator('#success-text'), 'the success text'),
      'You have successfully linked your mobile device with your account.',
    );
    assert.equal((await phone.credentials()).length, 1, 'the authenticator holds one passkey');
    await screen(page, '08-success');
  });

  await step('the portal says the device is linked', async () => {
    await desktop.page
      .locator('#link-status', { hasText: 'is now linked' })
      .waitFor({ timeout: CONTINUE_TIMEOUT_MS });
  });

  await pstep('"Back to home screen" opens the unlock screen; unlock by code', async () => {
    await page.locator('#back-home').tap();
    await onScreen(page, 'unlock');
    await page.locator('#unlock-bio').waitFor({ state: 'visible' });
    await screen(page, '09-unlock');
    await unlockWithCode(page, '482913');
    assert.equal(await visibleText(page.locator('#me-name'), '#me-name'), 'Marie Schmit');
    assert.equal(await visibleText(page.locator('#me-device'), '#me-device'), 'Marie’s test phone');
    assert.equal(await visibleText(page.locator('#me-bio'), '#me-bio'), 'On');
    assert.match(await visibleText(page.locator('#me-since'), '#me-since'), /\d{4}/);
    await screen(page, '10-account');
  });

  await pstep('lock, then unlock by biometrics', async () => {
    await page.locator('#lock').tap();
    await onScreen(page, 'unlock');
    await page.locator('#unlock-bio').tap();
    await onScreen(page, 'account');
    await page.locator('#me-name').filter({ hasText: 'Marie Schmit' }).waitFor();
  });

  // The demo portal asks devicelink to sign Marie in; she approves in the app.
  const portal = await openBrowser(t);
  const dstep = stepper(t, portal.page, 'app-approve-portal');
  const approveFilm = await dstep('the demo portal shows devicelink’s approval QR code', async () => {
    await portal.page.goto(DEMO_PORTAL.href, { waitUntil: 'load' });
    await portal.page.locator('#sign-in').click();
    await portal.page.waitForURL(onOrigin(PORTAL, '/oidc/authorize'), { waitUntil: 'load' });
    await portal.page.locator('#sign-in-app').click();
    await portal.page.waitForURL(onOrigin(PORTAL, '/oidc/authorize/app'), { waitUntil: 'load' });
    await portal.page.locator('#approval-qr').waitFor({ state: 'visible' });
    return filmOf(portal.page, portal.page.locator('#approval-qr'), 'app-approval-qr');
  });

  // The camera films a file fixed at launch: a second phone profile would lose the device key,
  // so the approval QR reaches this phone as a photo ("Choose a photo of the QR code").
  await pstep('"Sign in to a portal": the photo of the approval QR code', async () => {
    await page.locator('#sign-in-portal').tap();
    await onScreen(page, 'approve');
    await screen(page, '11-sign-in-to-a-portal');
    await page.locator('#approve-photo').setInputFiles(approveFilm.replace(/\.mjpeg$/, '.jpg'));
    await page.locator('#approve-decide').waitFor({ state: 'visible' });
    assert.match(await visibleText(page.locator('#approve-ask'), '#approve-ask'), /Demo portal asks to sign you in/);
    await screen(page, '12-approve');
  });

  const redirected = portal.page.waitForRequest((req) => req.url().startsWith(`${DEMO_PORTAL.href}callback`), {
    timeout: CONTINUE_TIMEOUT_MS,
  });
  await pstep('approve', async () => {
    await page.locator('#approve-yes').tap();
    await page.locator('#approve-result').filter({ hasText: /Approved/ }).waitFor();
  });
  await dstep('the demo portal continues by itself, signed in with the device', async () => {
    const back = new URL((await redirected).url());
    assert.ok(back.searchParams.get('code'), `a code in ${back.href}`);
    await portal.page.waitForURL((url) => url.href.startsWith(`${DEMO_PORTAL.href}callback`), { waitUntil: 'load' });
    assert.match(await visibleText(portal.page.locator('td[data-claim="acr"]'), 'acr'), /^urn:devicelink:acr:device/);
  });

  await pstep('biometrics off, then on again: after a biometric unlock the code is asked first', async () => {
    await page.locator('section[data-screen="approve"] button[data-action="account"]').tap();
    await onScreen(page, 'account');
    await page.locator('#bio-toggle', { hasText: 'Turn biometrics off' }).tap();
    await page.locator('#account-notice').filter({ hasText: 'Biometrics are off.' }).waitFor();
    await page.locator('#me-bio').filter({ hasText: /^Off$/ }).waitFor(); // /api/v1/me answers after the notice shows
    await page.locator('#bio-toggle', { hasText: 'Turn biometrics on' }).tap();
    await onScreen(page, 'stepup');
    await typeCode(page, '#stepup-code', '482913');
    await page.locator('#stepup-form button[type="submit"]').tap();
    await page.locator('#account-notice').filter({ hasText: 'Biometrics are on.' }).waitFor();
    await page.locator('#me-bio').filter({ hasText: /^On$/ }).waitFor(); // /api/v1/me answers after the notice shows
  });

  await pstep('change the secret code (a weak one is refused first)', async () => {
    await page.locator('#change-code').tap();
    await onScreen(page, 'change');
    await typeCode(page, '#change-current', '482913');
    await typeCode(page, '#change-new', '123456');
    await typeCode(page, '#change-again', '123456');
    await page.locator('#change-form button[type="submit"]').tap();
    await page.locator('#change-error [data-code="weak_secret_code"]').waitFor();
    await screen(page, '13-change-code-weak');
    await typeCode(page, '#change-current', '482913');
    await typeCode(page, '#change-new', '591736');
    await typeCode(page, '#change-again', '591736');
    await page.locator('#change-form button[type="submit"]').tap();
    await onScreen(page, 'account');
    await page.locator('#account-notice').filter({ hasText: 'Your secret code has been changed.' }).waitFor();
  });

  await pstep('the new code unlocks', async () => {
    await page.locator('#lock').tap();
    await unlockWithCode(page, '591736');
  });

  await pstep('"Unlink this device" from the app', async () => {
    await page.locator('#unlink').tap();
    await onScreen(page, 'unlink');
    await screen(page, '14-unlink');
    await page.locator('#unlink-yes').tap();
    await onScreen(page, 'home');
    assert.equal(
      await visibleText(page.locator('#home-notice'), '#home-notice'),
      'This device is no longer linked to your account.',
    );
  });

  await pstep('reopened, the app offers "Link your device" again', async () => {
    await page.reload();
    await onScreen(page, 'home');
  });
});
