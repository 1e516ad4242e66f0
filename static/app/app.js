// The phone web app's start: the language, the service worker, then the first screen
// (the LuxTrust return, the unlock screen of a linked device, or "Link your device").

import { setLanguage } from './api.js';
import * as home from './home.js';
import { choose, start as startTexts } from './i18n.js';
import * as linking from './link.js';
import * as store from './store.js';
import { $, show } from './ui.js';

async function main() {
  const lang = await startTexts();
  setLanguage(lang);
  const select = $('language');
  select.value = lang;
  select.addEventListener('change', async () => {
    setLanguage(await choose(select.value));
  });

  if (!window.crypto?.subtle || !window.indexedDB) {
    show('unsupported');
    return;
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch((err) => {
      console.warn(`the service worker was not registered: ${err.message}`);
    });
  }

  home.setup();
  linking.setup((device) => home.linkedNow(device));

  let linked = null;
  try {
    linked = (await store.get('device')) ?? null;
  } catch {
    show('unsupported');
    return;
  }
  $('back-home').onclick = async () => {
    home.start((await store.get('device')) ?? linked);
  };

  const hash = window.location.hash;
  if (hash.startsWith('#link-callback?')) {
    // The fragment holds a one-time result: take it out of the address bar and history.
    history.replaceState(null, '', window.location.pathname);
    await linking.resumeFromCallback(hash.slice('#link-callback?'.length));
    return;
  }
  if (linked) home.start(linked);
  else show('home');
}

main().catch((err) => {
  console.error(err);
  show('unsupported');
});
