"""An unmodified, OpenID-certified Python relying party (pyoidc, PyPI `oic`) against
devicelink's OpenID provider (issue #17). run.sh next to this file starts devicelink.

  rp.py config DIR   writes DIR/devicelink.toml (three portals) and DIR/client-key.json
  rp.py run DIR      the flows: discovery, code flow with PKCE and the library's default ID
                     token algorithm (RS256) for client_secret_basic, a public client and
                     private_key_jwt; then back-channel logout to a receiver in this script.

pyoidc has no PAR and no DPoP; the Node suite (integration-tests/browser/rp-library.test.mjs)
covers those with openid-client. The citizen signs in at the bundled mock eAccess by plain
HTTP, as src/mock_idp/script.rs and integration-tests/helpers.rs do.
"""

import json
import secrets
import sys
import threading
import time
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from Cryptodome.PublicKey import RSA
from jwkest.jwk import RSAKey
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, BackChannelLogoutRequest, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.keyio import KeyBundle

ISSUER = "http://127.0.0.1:8380"
MOCK = "http://127.0.0.1:8381"
RECEIVER_PORT = 8382
CALLBACK = "http://127.0.0.1:8383/callback/"  # never fetched: the redirect is read, not followed
SECRET = "rp-python-secret-0123456789"
BACKCHANNEL_WAIT_SECS = 20


def config(work: Path) -> None:
    """The devicelink configuration, with a fresh RSA key for the private_key_jwt portal."""
    key = RSAKey(key=RSA.generate(2048), kid="py-jwt-1", use="sig", alg="RS256")
    (work / "client-key.json").write_text(json.dumps(key.serialize(private=True)))
    jwks = json.dumps({"keys": [key.serialize(private=False)]})

    def portal(client_id, *extra):
        return "\n".join([
            "[[provider.clients]]",
            f'client_id = "{client_id}"',
            f'name = "RP {client_id}"',
            f'redirect_uris = ["{CALLBACK}{client_id}"]',
            'scopes = ["profile", "email"]',
            *extra,
            "",
        ])

    (work / "devicelink.toml").write_text("\n".join([
        "[server]",
        'bind = "127.0.0.1:8380"',
        f'public_url = "{ISSUER}"',
        "[eaccess]",
        f'issuer = "{MOCK}"',
        "[demo]",
        "portal = false",
        "",
        # No id_token_signed_response_alg anywhere: RS256 must be the default.
        portal("py-basic", f'secret = "{SECRET}"',
               f'backchannel_logout_uri = "http://127.0.0.1:{RECEIVER_PORT}/backchannel"'),
        portal("py-public", "public = true"),
        portal("py-jwt", f"jwks = '{jwks}'"),
    ]))


# --- the citizen's browser, over plain HTTP ------------------------------------------------

class Page(HTMLParser):
    """The forms (action and fields), links (id -> href) and outputs (id -> text) of a page."""

    def __init__(self, html):
        super().__init__()
        self.forms, self.links, self.outputs, self._output = [], {}, {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            if tag == "input" and a.get("type") in ("checkbox", "radio"):
                return
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
        elif tag == "a" and a.get("id"):
            self.links[a["id"]] = a.get("href", "")
        elif tag == "output":
            self._output = a.get("id")

    def handle_data(self, data):
        if self._output:
            self.outputs[self._output] = data.strip()
            self._output = None

    def form(self, action_suffix):
        for f in self.forms:
            if f["action"].endswith(action_suffix):
                return f
        raise AssertionError(f"no form posting to ...{action_suffix}")


class Browser:
    """A cookie jar that stops at every redirect, so each step is visible."""

    def __init__(self):
        self.http = requests.Session()

    def get(self, url):
        return self.http.get(url, allow_redirects=False, timeout=15)

    def post(self, url, data):
        return self.http.post(url, data=data, allow_redirects=False, timeout=15)


def location(res):
    assert res.status_code in (302, 303), f"{res.url} answered {res.status_code}, not a redirect: {res.text[:300]}"
    return urljoin(res.url, res.headers["Location"])


def mock_login(browser, authorize_url, identity="marie", product="luxtrust_mobile"):
    """The mock eAccess's two forms (as src/mock_idp/script.rs fills them); returns the callback."""
    res = browser.get(authorize_url)
    login = Page(res.text).form("/authorize/login")
    res = browser.post(urljoin(res.url, login["action"]), {
        "request_id": login["fields"]["request_id"], "identity": identity, "product": product,
        "action": "continue"})
    assert res.status_code == 200, f"the mock's login form answered {res.status_code}"
    page = Page(res.text)
    confirm = page.form("/authorize/confirm")
    fields = {"request_id": confirm["fields"]["request_id"], "action": "approve"}
    code = page.outputs.get("scan-code") or page.outputs.get("token-code")
    if code:
        fields["otp"] = code
    if 'name="pin"' in res.text:
        fields["pin"] = "1234"
    return location(browser.post(urljoin(res.url, confirm["action"]), fields))


def sign_in(browser, authorization_url, redirect_uri):
    """devicelink's choice page -> eAccess -> registration and consent when asked -> the
    redirect back to the portal (returned, not followed)."""
    res = browser.get(authorization_url)
    assert res.status_code == 200, f"the choice page: {res.status_code} {res.headers.get('Location')}"
    broker = Page(res.text).links["sign-in-eaccess"]
    url = mock_login(browser, location(browser.get(urljoin(ISSUER, broker))))
    for _ in range(8):
        if url.startswith(redirect_uri):
            return url
        res = browser.get(url)
        if res.status_code in (302, 303):
            url = location(res)
            continue
        assert res.status_code == 200, f"{url} answered {res.status_code}: {res.text[:300]}"
        page = Page(res.text)
        if urlsplit(res.url).path == "/register":
            form = page.form("/register")
            data = dict(form["fields"], email="marie@example.lu", accept_terms="yes")
            url = location(browser.post(urljoin(ISSUER, "/register"), data))
        else:
            form = page.form("/oidc/authorize/consent")
            data = dict(form["fields"], decision="allow")
            url = location(browser.post(urljoin(ISSUER, form["action"]), data))
    raise AssertionError(f"never back at {redirect_uri}; last at {url}")


def sign_out(browser):
    """The dashboard's "Sign out" button (POST /auth/logout with its CSRF token)."""
    res = browser.get(urljoin(ISSUER, "/dashboard"))
    assert res.status_code == 200, f"/dashboard answered {res.status_code}: not signed in?"
    form = Page(res.text).form("/auth/logout")
    res = browser.post(urljoin(ISSUER, "/auth/logout"), form["fields"])
    assert res.status_code == 303, f"sign-out answered {res.status_code}"


# --- the relying party: pyoidc does everything OpenID ----------------------------------------

def relying_party(client_id, auth_method, secret=None, key=None):
    rp = Client(client_id=client_id, client_authn_method=CLIENT_AUTHN_METHOD)
    rp.provider_config(ISSUER)  # discovery, issuer check, JWKS into the key jar
    registration = {"client_id": client_id, "redirect_uris": [f"{CALLBACK}{client_id}"],
                    "token_endpoint_auth_method": auth_method}
    if secret:
        registration["client_secret"] = secret
    rp.store_registration_info(RegistrationResponse(**registration))
    if key:
        rp.keyjar.add_kb("", KeyBundle([key]))
    return rp


def code_flow(rp, authn_method, browser=None):
    """Authorization request with PKCE, state and nonce; the callback; the code exchange; ID
    token and userinfo, each verified by pyoidc at its defaults."""
    browser = browser or Browser()
    redirect_uri = rp.registration_response["redirect_uris"][0]
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    pkce, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(request_args={
        "response_type": "code", "scope": "openid profile email", "redirect_uri": redirect_uri,
        "state": state, "nonce": nonce, **pkce})
    rp.state2nonce[state] = nonce
    back = sign_in(browser, request.request(rp.authorization_endpoint), redirect_uri)

    response = rp.parse_response(AuthorizationResponse, info=urlsplit(back).query,
                                 sformat="urlencoded")
    assert isinstance(response, AuthorizationResponse), f"an error came back: {response}"
    assert response["state"] == state
    assert response.get("iss") == ISSUER, "iss in the authorization response (RFC 9207)"

    # algs: the library's own default for a client that registered none (RS256), as
    # pyoidc's Consumer applies it.
    tokens = rp.do_access_token_request(
        state=state, authn_method=authn_method, algs=rp.sign_enc_algs("id_token"),
        request_args={"code": response["code"], "redirect_uri": redirect_uri,
                      "code_verifier": verifier})
    assert "id_token" in tokens, f"the token endpoint answered {tokens.to_dict()}"
    id_token = tokens["id_token"]  # signature checked against devicelink's JWKS
    rp.verify_id_token(id_token, request)  # iss, aud, exp, nonce
    assert id_token.jws_header["alg"] == "RS256", f"ID token alg {id_token.jws_header['alg']}"
    assert id_token["acr"] == "urn:devicelink:acr:eaccess:luxtrust_mobile"
    assert id_token["email"] == "marie@example.lu"

    userinfo = rp.do_user_info_request(state=state, method="GET")
    assert userinfo.type() == "OpenIDSchema", f"userinfo answered {userinfo.to_dict()}"
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["given_name"] == "Marie" and userinfo["family_name"] == "Schmit"
    return browser, id_token


class Receiver(BaseHTTPRequestHandler):
    """The portal's back-channel logout endpoint: keeps each request, answers 200."""
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        Receiver.received.append((self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def log_message(self, *args):
        pass


def backchannel_logout(rp, browser, id_token):
    server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert rp.provider_info.get("backchannel_logout_supported") is True
        assert rp.provider_info.get("backchannel_logout_session_supported") is True
        sign_out(browser)
        deadline = time.monotonic() + BACKCHANNEL_WAIT_SECS
        while not Receiver.received and time.monotonic() < deadline:
            time.sleep(0.25)
        assert Receiver.received, f"no logout token within {BACKCHANNEL_WAIT_SECS} s"
    finally:
        server.shutdown()
    content_type, body = Receiver.received[0]
    assert content_type.startswith("application/x-www-form-urlencoded"), content_type
    # pyoidc: signature (devicelink's JWKS), iss, aud, iat, events, no nonce, sub or sid.
    request = BackChannelLogoutRequest().from_urlencoded(body)
    request.verify(keyjar=rp.keyjar, iss=ISSUER, aud=rp.client_id)
    token = request["logout_token"]
    assert token.jws_header.get("typ") == "logout+jwt", f"typ {token.jws_header.get('typ')}"
    assert token["sid"] == id_token["sid"] and token["sub"] == id_token["sub"]
    assert "exp" in token, "exp is required in a logout token (BCL 2.4)"


def run(work: Path) -> None:
    steps = []

    def step(name, fn):
        fn()
        steps.append(name)
        print(f"ok - {name}", flush=True)

    basic = relying_party("py-basic", "client_secret_basic", secret=SECRET)
    state = {}
    step("client_secret_basic + PKCE, RS256 by default",
         lambda: state.update(zip(("browser", "id_token"), code_flow(basic, "client_secret_basic"))))
    public = relying_party("py-public", "none")
    step("public client + PKCE", lambda: code_flow(public, ""))
    key = json.loads((work / "client-key.json").read_text())  # private JWK
    jwt = relying_party("py-jwt", "private_key_jwt", key=key)
    step("private_key_jwt + PKCE", lambda: code_flow(jwt, "private_key_jwt"))
    step("back-channel logout after signing out of devicelink",
         lambda: backchannel_logout(basic, state["browser"], state["id_token"]))
    print(f"all {len(steps)} passed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("config", "run"):
        sys.exit(__doc__)
    {"config": config, "run": run}[sys.argv[1]](Path(sys.argv[2]))
