// Real-browser replay of the last dead ends (see dead-ends.test.mjs for the others):
// - 8: "Link a device" opened again shows this session's live code (no new code, so no
//   "Too many attempts"); `?new=1` asks for a new one;
// - 9 and 10: "Sign in with your mobile app" without JavaScript: "I approved in the app —
//   continue" before approving shows the waiting state with "Check again"; giving up goes
//   back to the portal with `access_denied`, and the demo portal says "You did not allow
//   the sign-in" (403) instead of raw text.
//
// Run through run.sh (it starts `devicelink demo`, the demo portal on :8090).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { PORTAL, onOrigin, openBrowser, prepareScreenshots, stepper, visibleText } from './harness.mjs';
import { signInToPortal } from './app-helpers.mjs';

const DEMO_PORTAL = new URL('http://127.0.0.1:8090/');

before(async () => {
  await prepareScreenshots();
});

test('the link page opened again shows the same live code; ?new=1 makes a new one', async (t) => {
  const { page } = await openBrowser(t);
  const step = stepper(t, page, 'dead-end-8');
  await signInToPortal(step, page);
  const codeId = async () => {
    await page.locator('#link-qr').waitFor({ state: 'visible' });
    return page.locator('#link-qr').getAttribute('data-link-id');
  };
  let first;
  await step('open "Link a device": a code, the whole-account scope and the help link', async () => {
    await page.locator('#link-device').click();
    await page.waitForURL(onOrigin(PORTAL, '/devices/link'), { waitUntil: 'load' });
    first = await codeId();
    assert.ok(first, 'the page shows a code');
    assert.match(await visibleText(page.locator('#link-scope'), '#link-scope'), /eSpace/);
    assert.equal(await page.locator('#link-help').getAttribute('href'), '/help#linking');
  });
  await step('open it 25 more times: always the same live code, never "Too many attempts"', async () => {
    for (let visit = 0; visit < 25; visit += 1) {
      const res = await page.goto(new URL('/devices/link', PORTAL).href);
      assert.equal(res?.status(), 200, `visit ${visit + 2} answered HTTP ${res?.status()}`);
      assert.equal(await codeId(), first, `visit ${visit + 2} shows the same code`);
    }
  });
  await step('"?new=1" makes a new code', async () => {
    await page.goto(new URL('/devices/link?new=1', PORTAL).href);
    assert.notEqual(await codeId(), first);
  });
  await step('the help page answers the questions the link page leads to', async () => {
    await page.goto(new URL('/help#linking', PORTAL).href);
    for (const id of ['#linking', '#lost-phone', '#forgot-code', '#locked', '#not-me']) {
      await page.locator(id).waitFor({ state: 'visible' });
    }
    assert.match(await visibleText(page.locator('#forgot-code'), '#forgot-code'), /Forgotten secret code/);
  });
});

test('without JavaScript, "continue" before approving waits; giving up returns to the portal, which says so', async (t) => {
  const { page } = await openBrowser(t, { javaScriptEnabled: false });
  const step = stepper(t, page, 'dead-end-9');
  await step('the demo portal: "Sign in with devicelink", then "Sign in with your mobile app"', async () => {
    await page.goto(DEMO_PORTAL.href);
    await page.locator('#sign-in').click();
    await page.waitForURL(onOrigin(PORTAL, '/oidc/authorize'), { waitUntil: 'load' });
    await page.locator('#sign-in-app').click();
    await page.locator('#approval-continue').waitFor({ state: 'visible' });
  });
  await step('"continue" before the app answered: the waiting state, HTTP 200, with Check again', async () => {
    const [res] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.locator('#approval-continue').click(),
    ]);
    assert.equal(res?.status(), 200, `the waiting page answered HTTP ${res?.status()}`);
    await page.locator('#approval-waiting').waitFor({ state: 'visible' });
    await page.locator('#show-code-again').waitFor({ state: 'visible' });
  });
  await step('"Check again" still waits', async () => {
    await page.locator('#check-again').click();
    await page.locator('#approval-waiting').waitFor({ state: 'visible' });
  });
  await step('give up: back at the demo portal, "You did not allow the sign-in" (403)', async () => {
    const answers = [];
    page.on('response', (r) => {
      if (new URL(r.url()).origin === DEMO_PORTAL.origin) answers.push(r.status());
    });
    await page.locator('#cancel').click();
    await page.waitForURL(onOrigin(DEMO_PORTAL), { waitUntil: 'load' });
    assert.equal(await visibleText(page.locator('h1'), 'h1'), 'You did not allow the sign-in');
    assert.ok(answers.includes(403), `the demo portal answered ${answers}`);
    const title = await page.title();
    assert.doesNotMatch(title, /Demo portal – Demo portal/, `title: ${title}`);
  });
});
