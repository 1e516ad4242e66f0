// The shared harness of the real-browser tests: a fresh chromium per test, named steps with
// screenshots on failure, and the sign-in at the mock eAccess.
//
// Playwright (playwright-core, no downloaded browser) drives Debian's chromium against a running
// `devicelink demo` (portal on :8080, mock eAccess on :8081). See README.md.

import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

export const PLAYWRIGHT_VERSION = createRequire(import.meta.url)('playwright-core/package.json').version;

export const HERE = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = join(HERE, 'screenshots');

export const PORTAL = new URL(process.env.PORTAL_URL ?? 'http://127.0.0.1:8080/');
export const IDP = new URL(process.env.MOCK_IDP_URL ?? 'http://127.0.0.1:8081/');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS ?? 15_000);

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

let browserVersion = 'unknown';

/** The version of the last launched chromium. */
export function chromiumVersion() {
  return browserVersion;
}


/**
 * A fresh browser (own empty profile) per test: no cookie or SSO session leaks between tests.
 * Records console errors, page errors and failed requests so that the test can report them.
 */
export async function openBrowser(t, { locale = 'en-GB', javaScriptEnabled = true } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'devicelink-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    locale,
    javaScriptEnabled,
    timeout: 60_000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  browserVersion = context.browser()?.version() ?? browserVersion;

  const problems = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      problems.push(`console ${msg.type()} on ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('requestfailed', (req) =>
    problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`),
  );
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
  });

  t.after(async () => {
    for (const p of problems) t.diagnostic(`browser: ${p}`);
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  });
  return { context, page, problems };
}

/**
 * Runs one step of a scenario with a name and timing; on failure the error names the step,
 * the page's URL and the start of its visible text, and a screenshot is saved.
 */
export function stepper(t, page, scenario) {
  let n = 0;
  return async function step(name, fn) {
    n += 1;
    const started = performance.now();
    try {
      const result = await fn();
      t.diagnostic(`${scenario} step ${n} "${name}": ${Math.round(performance.now() - started)} ms`);
      return result;
    } catch (err) {
      let text = '';
      try {
        text = (await page.locator('body').innerText({ timeout: 2_000 })).replace(/\s+/g, ' ').slice(0, 400);
      } catch {
        text = '(page text unavailable)';
      }
      const shot = join(SCREENSHOTS, `failure-${scenario}-step${n}.png`);
      await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 }).catch(() => {});
      const wrapped = new Error(
        `${scenario}: step ${n} "${name}" failed: ${err.message}\n  at URL: ${page.url()}\n  page text: ${text}\n  screenshot: ${shot}`,
      );
      wrapped.cause = err;
      throw wrapped;
    }
  };
}

export function onOrigin(origin, path) {
  return (url) => url.origin === origin.origin && (path === undefined || url.pathname === path);
}

export async function visibleText(locator, what) {
  await locator.waitFor({ state: 'visible' }).catch((err) => {
    throw new Error(`${what} is not visible: ${err.message.split('\n')[0]}`);
  });
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

/** From the portal's home page to the mock eAccess login form. */
export async function startSignIn(step, page) {
  await step('open the home page', async () => {
    const res = await page.goto(PORTAL.href);
    assert.equal(res?.status(), 200, `home page answered HTTP ${res?.status()}`);
    const label = await visibleText(page.locator('#sign-in'), 'the #sign-in link');
    assert.match(label, /sign in with eaccess/i, `#sign-in reads "${label}"`);
  });
  await step('follow "Sign in with eAccess" to the mock eAccess', async () => {
    await page.locator('#sign-in').click();
    await page.waitForURL(onOrigin(IDP), { waitUntil: 'load' }).catch((err) => {
      throw new Error(`did not reach the mock eAccess (${IDP.origin}): ${err.message.split('\n')[0]}`);
    });
    // The login form must be shown (no silent SSO reuse): it has the identity radios.
    await page.locator('input[name="identity"]').first().waitFor({ state: 'visible' }).catch(() => {
      throw new Error('the mock eAccess did not show its login form (identity choice)');
    });
  });
}

/**
 * On the mock login form: choose identity and product, continue, then complete the product step.
 * `backAt` says where approving leads (by default the portal under test); a test with its own
 * devicelink instance passes its own.
 */
export async function loginAtMock(step, page, identity, product, backAt = onOrigin(PORTAL)) {
  await step(`choose ${identity} with ${product}`, async () => {
    await page.locator(`input[name="identity"][value="${identity}"]`).check();
    await page.locator(`input[name="product"][value="${product}"]`).check();
    await page.locator('button[name="action"][value="continue"]').click();
    await page.locator('button[name="action"][value="approve"]').waitFor({ state: 'visible' }).catch(() => {
      throw new Error(`no product step page (approve button) after choosing ${identity}/${product}`);
    });
  });
  await step(`complete the ${product} step`, async () => {
    if (product === 'luxtrust_scan' || product === 'luxtrust_token') {
      const id = product === 'luxtrust_scan' ? '#scan-code' : '#token-code';
      const code = await visibleText(page.locator(id), id);
      assert.match(code, /^\d{6}$/, `${id} should show a 6-digit code, shows "${code}"`);
      await page.locator('input[name="otp"]').fill(code);
    } else if (product === 'eid_card') {
      await page.locator('input[name="pin"]').fill('123456');
    }
    await page.locator('button[name="action"][value="approve"]').click();
    await page.waitForURL(backAt, { waitUntil: 'load' }).catch((err) => {
      throw new Error(`approving did not lead back to the portal: ${err.message.split('\n')[0]}`);
    });
  });
}

/** Creates the screenshots folder (call from `before`). */
export async function prepareScreenshots() {
  await mkdir(SCREENSHOTS, { recursive: true });
}
