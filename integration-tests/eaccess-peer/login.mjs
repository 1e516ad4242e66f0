// Signing in at the peer with a plain HTTP client, no browser: the same requests a
// browser makes on oidc-provider's devInteractions pages (README.md, "Driving the login").
// Redirects are never followed automatically; cookies are kept by a small path-aware jar,
// as reqwest's cookie store does.

/** Cookies by (name, path), sent to the peer's origin on matching paths. */
export class CookieJar {
  #cookies = new Map();

  /** Takes the Set-Cookie headers of a response. */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        if (/^path$/i.test(key)) path = val;
        if (/^expires$/i.test(key) && Date.parse(val) <= Date.now()) expired = true;
        if (/^max-age$/i.test(key) && Number(val) <= 0) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  /** The Cookie header for a request to `url` (undefined when there is none). */
  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.#cookies.values()].filter(({ path }) => pathname === path
      || pathname.startsWith(path.endsWith('/') ? path : `${path}/`));
    return matching.length ? matching.map(({ name, value }) => `${name}=${value}`).join('; ') : undefined;
  }

  names(url) {
    return (this.header(url) ?? '').split('; ').filter(Boolean).map((c) => c.split('=')[0]);
  }
}

/** One request, redirects off, cookies from and into `jar`; `trace` gets a line. */
export async function request(jar, method, url, form, trace) {
  const headers = {};
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, { method, headers, body, redirect: 'manual' });
  jar.store(response);
  const location = response.headers.get('location');
  trace?.({
    method,
    url: String(url),
    form,
    cookiesSent: cookie ? cookie.split('; ').map((c) => c.split('=')[0]) : [],
    status: response.status,
    location: location ?? undefined,
    cookiesSet: response.headers.getSetCookie().map((c) => c.split(';')[0].split('=')[0]),
  });
  return response;
}

// The page's form as a browser would submit it: its action, its hidden inputs, and
// what kind of page it is.
//  - `login` / `consent`: devInteractions' pages (hidden `prompt`), a person types or clicks;
//  - `logout`: the end_session confirmation page (form `op.logoutForm`, hidden `xsrf`; its
//    "Yes, sign me out" button adds `logout=yes`);
//  - `auto`: a page whose script submits the form at once ("Submitting Callback"), e.g. the
//    end of the old session when another account signs in within the same session.
function pageForm(html) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return undefined;
  const action = /action="([^"]+)"/.exec(form[1])?.[1];
  if (!action || !/method="post"/.test(form[1])) return undefined;
  const fields = {};
  for (const [, name, value] of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) {
    fields[name] = value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  let kind = 'auto';
  if (fields.prompt) kind = fields.prompt;
  else if (/id="op.logoutForm"/.test(form[1])) kind = 'logout';
  else if (!/document\.forms\[0\]\.submit\(\)/.test(html)) return undefined;
  return { action: action.replace(/&amp;/g, '&'), fields, kind };
}

/**
 * Drives one authorization request to its answer at the RP: GET the authorization URL,
 * then follow the peer's redirects, submitting the login form (`login`, any `password`),
 * the consent form and self-submitting forms whenever the peer shows them. Returns the
 * URL the peer redirects to at the client's redirect_uri (with `code` or `error`,
 * `state`, `iss`) and the pages that were submitted, in order.
 */
export async function signIn(jar, authorizeUrl, { login, password = 'any-password', trace } = {}) {
  const redirectUri = new URL(authorizeUrl).searchParams.get('redirect_uri');
  const shown = [];
  let url = new URL(authorizeUrl);
  for (let hop = 0; hop < 16; hop += 1) {
    const response = await request(jar, 'GET', url, undefined, trace);
    let answer = response;
    if (response.status === 200) {
      const html = await response.text();
      const form = pageForm(html);
      if (!form || form.kind === 'logout') throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
      shown.push(form.kind);
      const fields = form.kind === 'login' ? { ...form.fields, login, password } : form.fields;
      answer = await request(jar, 'POST', new URL(form.action, url), fields, trace);
    }
    const location = answer.headers.get('location');
    if (answer.status < 300 || answer.status > 399 || !location) {
      throw new Error(`unexpected ${answer.status} at ${url}: ${(await answer.text()).slice(0, 300)}`);
    }
    url = new URL(location, url);
    if (`${url.origin}${url.pathname}` === redirectUri) return { callback: url, shown };
  }
  throw new Error('too many redirects');
}

/**
 * RP-initiated logout: GET the end_session_endpoint with `id_token_hint` and
 * `post_logout_redirect_uri`, then POST its confirmation form (`xsrf`, `logout=yes`).
 * Returns where the peer sends the user-agent afterwards.
 */
export async function signOut(jar, endSessionUrl, trace) {
  const page = await request(jar, 'GET', endSessionUrl, undefined, trace);
  const html = await page.text();
  const form = pageForm(html);
  // With a session: the confirmation page; without one: a self-submitting form.
  if (page.status !== 200 || !form || !['logout', 'auto'].includes(form.kind)) {
    throw new Error(`unexpected ${page.status} logout page: ${html.slice(0, 300)}`);
  }
  const done = await request(jar, 'POST', new URL(form.action, endSessionUrl), { ...form.fields, logout: 'yes' }, trace);
  const location = done.headers.get('location');
  if (done.status < 300 || done.status > 399 || !location) throw new Error(`unexpected ${done.status} after logout`);
  return new URL(location, endSessionUrl);
}
