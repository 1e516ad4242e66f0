// The app's service worker: serves the app shell when offline. It never caches an API
// answer (/api/...), the server's settings or the LuxTrust return: those go to the
// network only. Shell files are fetched fresh when online (network first).

const VERSION = 'devicelink-app-v1';
const SHELL = [
  './',
  'app.css',
  'app.js',
  'api.js',
  'dpop.js',
  'store.js',
  'webauthn.js',
  'scanner.js',
  'i18n.js',
  'ui.js',
  'link.js',
  'home.js',
  'manifest.webmanifest',
  'icons/icon.svg',
  'icons/icon-192.png',
  'vendor/jsqr/jsQR.js',
  'vendor/fluent-bundle/index.js',
  'vendor/fluent-bundle/ast.js',
  'vendor/fluent-bundle/builtins.js',
  'vendor/fluent-bundle/bundle.js',
  'vendor/fluent-bundle/memoizer.js',
  'vendor/fluent-bundle/resolver.js',
  'vendor/fluent-bundle/resource.js',
  'vendor/fluent-bundle/scope.js',
  'vendor/fluent-bundle/types.js',
  'locales/fr/app.ftl',
  'locales/de/app.ftl',
  'locales/en/app.ftl',
];
const NEVER = ['config.json', 'link-callback'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** Only the shell: same origin, GET, under the app's scope, and not a live answer. */
function isShell(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return false;
  const rest = url.pathname.slice(scope.pathname.length);
  return !NEVER.includes(rest);
}

self.addEventListener('fetch', (event) => {
  if (!isShell(event.request)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(VERSION);
      try {
        const fresh = await fetch(event.request);
        if (fresh.ok) await cache.put(event.request, fresh.clone());
        return fresh;
      } catch (err) {
        const kept = await cache.match(event.request, { ignoreSearch: true });
        if (kept) return kept;
        throw err;
      }
    })(),
  );
});
