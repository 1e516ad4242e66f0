// Screens and messages: one <section data-screen> visible at a time, its heading
// focused (keyboard and screen-reader users land on the new screen), errors shown with
// the server's sentence and code.

import { setText, t } from './i18n.js';

const listeners = new Map();

export const $ = (id) => document.getElementById(id);

/** Shows the screen `name`, hides the others, runs its `onShow` hook. */
export function show(name) {
  for (const section of document.querySelectorAll('section[data-screen]')) {
    section.hidden = section.dataset.screen !== name;
  }
  document.body.dataset.screen = name;
  const heading = document.querySelector(`section[data-screen="${name}"] h1`);
  heading?.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  listeners.get(name)?.();
}

export function onShow(name, fn) {
  listeners.set(name, fn);
}

/** Shows an ApiError (or any error) in `el`: the sentence, then the code. */
export function showError(el, err) {
  el.replaceChildren();
  const sentence = document.createElement('span');
  sentence.className = 'sentence';
  if (err?.code === 'network_error') sentence.textContent = t('app-error-network');
  else sentence.textContent = err?.message || String(err);
  el.append(sentence);
  if (err?.code && err.code !== 'network_error') {
    const code = document.createElement('small');
    code.className = 'code-name';
    code.dataset.code = err.code;
    code.textContent = t('app-error-code', { code: err.code });
    el.append(' ', code);
  }
  el.hidden = false;
}

/** Shows one of the app's own messages in `el`. */
export function showText(el, id, args) {
  setText(el, id, args);
  el.hidden = false;
}

export function clear(...els) {
  for (const el of els) {
    el.hidden = true;
    el.replaceChildren();
    delete el.dataset.l10nId;
  }
}

/** Disables a form's or a button's controls while `fn` runs (no double submit). */
export async function busy(target, fn) {
  const controls = target.matches?.('form') ? [...target.elements] : [target];
  const before = controls.map((c) => c.disabled);
  controls.forEach((c) => {
    c.disabled = true;
  });
  document.body.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    controls.forEach((c, i) => {
      c.disabled = before[i];
    });
    document.body.removeAttribute('aria-busy');
  }
}

export const isSixDigits = (value) => /^[0-9]{6}$/.test(value);
