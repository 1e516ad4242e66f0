// The app's texts (locales/<lang>/app.ftl, Project Fluent) rendered with the vendored
// @fluent/bundle. Language: the citizen's choice (localStorage), else the browser's
// languages negotiated against fr/de/en, else French. English fills a missing key.

import { FluentBundle, FluentResource } from './vendor/fluent-bundle/index.js';

export const LANGUAGES = ['fr', 'de', 'en'];
const DEFAULT = 'fr';
const FALLBACK = 'en';
const CHOICE_KEY = 'devicelink-app-language';

let bundles = [];
let current = DEFAULT;

/** The language to use: the stored choice, else the first of the browser's we have. */
export function negotiate(stored, browserLanguages) {
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of browserLanguages ?? []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return DEFAULT;
}

async function bundle(lang) {
  const res = await fetch(`locales/${lang}/app.ftl`);
  if (!res.ok) throw new Error(`no texts for ${lang}`);
  const b = new FluentBundle(lang, { useIsolating: false });
  const errors = b.addResource(new FluentResource(await res.text()));
  for (const e of errors) console.warn(`app.ftl (${lang}): ${e}`);
  return b;
}

export function language() {
  return current;
}

/** Loads `lang` (or the negotiated one), sets <html lang> and translates the page. */
export async function start(lang) {
  let stored = null;
  try {
    stored = localStorage.getItem(CHOICE_KEY);
  } catch {
    stored = null;
  }
  current = lang ?? negotiate(stored, navigator.languages);
  const chain = current === FALLBACK ? [current] : [current, FALLBACK];
  bundles = await Promise.all(chain.map(bundle));
  document.documentElement.lang = current;
  translate(document);
  return current;
}

/** The citizen chose a language in the switcher. */
export async function choose(lang) {
  try {
    localStorage.setItem(CHOICE_KEY, lang);
  } catch {
    // Private mode: the choice lasts until the app is closed.
  }
  return start(lang);
}

/** The text of `id` with `args`. */
export function t(id, args) {
  for (const b of bundles) {
    const message = b.getMessage(id);
    if (message?.value) return b.formatPattern(message.value, args);
  }
  return id;
}

/** Fills every element with data-l10n-id under `root` (data-l10n-args: JSON). */
export function translate(root) {
  for (const el of root.querySelectorAll('[data-l10n-id]')) {
    const args = el.dataset.l10nArgs ? JSON.parse(el.dataset.l10nArgs) : undefined;
    el.textContent = t(el.dataset.l10nId, args);
  }
}

/** Sets an element's text id (and arguments) and translates it now. */
export function setText(el, id, args) {
  el.dataset.l10nId = id;
  if (args) el.dataset.l10nArgs = JSON.stringify(args);
  else delete el.dataset.l10nArgs;
  el.textContent = t(id, args);
}
