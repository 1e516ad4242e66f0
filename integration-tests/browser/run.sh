#!/usr/bin/env bash
# Real-browser tests: starts `devicelink demo` in a fresh temporary directory and drives the
# portal and the mock eAccess with Playwright (playwright-core) and Debian's chromium.
# Usage: integration-tests/browser/run.sh [extra node --test arguments]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
PORTAL_URL="${PORTAL_URL:-http://127.0.0.1:8080}"
MOCK_IDP_URL="${MOCK_IDP_URL:-http://127.0.0.1:8081}"
WAIT_SECS="${DEVICELINK_WAIT_SECS:-60}"

log() { printf '[browser-tests] %s\n' "$*" >&2; }

# 1. Chromium from Debian (never a browser downloaded by Playwright).
if [[ ! -x "$CHROMIUM" ]]; then
  log "installing chromium with apt-get"
  if [[ "$(id -u)" -ne 0 ]]; then
    log "not root: install chromium yourself (apt-get install chromium) or set CHROMIUM_PATH"
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
log "$("$CHROMIUM" --version 2>/dev/null | head -n1)"

# 2. playwright-core, openid-client and jose from the lock file (nothing downloads a browser).
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)

# 3. The devicelink binary.
BIN="${DEVICELINK_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/devicelink}"
if [[ -z "${DEVICELINK_BIN:-}" ]]; then
  log "building devicelink (cargo build --bin devicelink)"
  (cd "$ROOT" && cargo build --quiet --bin devicelink)
fi
[[ -x "$BIN" ]] || { log "no devicelink binary at $BIN"; exit 1; }

# 4. `devicelink demo` in a fresh directory (fresh SQLite database and mail folder).
WORK="$(mktemp -d "${TMPDIR:-/tmp}/devicelink-browser.XXXXXX")"
SERVER_LOG="$WORK/devicelink-demo.log"
SERVER_PID=""

tail_log() {
  if [[ -s "$SERVER_LOG" ]]; then
    log "last lines of the server log ($SERVER_LOG):"
    tail -n "${1:-60}" "$SERVER_LOG" >&2 || true
  elif [[ -e "$SERVER_LOG" ]]; then
    log "the server log ($SERVER_LOG) is empty"
  fi
}

cleanup() {
  local status=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    tail_log 80
    log "kept $WORK for inspection"
  elif [[ -z "${KEEP_WORKDIR:-}" ]]; then
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for url in "$PORTAL_URL/healthz" "$MOCK_IDP_URL/.well-known/openid-configuration"; do
  if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
    log "something already answers at $url: stop it first (ports 8080/8081 must be free)"
    exit 1
  fi
done

log "starting devicelink demo in $WORK"
(cd "$WORK" && exec "$BIN" demo) >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!

wait_for() {
  local url=$1 deadline=$((SECONDS + WAIT_SECS))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "devicelink demo exited before $url answered"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "no answer from $url within ${WAIT_SECS}s"
      return 1
    fi
    sleep 0.5
  done
}
started=$SECONDS
wait_for "$PORTAL_URL/healthz"
wait_for "$MOCK_IDP_URL/.well-known/openid-configuration"
log "server ready after $((SECONDS - started))s"

# 5. The tests (Node's built-in runner; tests in order), one file after the other in this
# order: portal.test.mjs expects marie not yet registered, link.test.mjs and manage.test.mjs
# cope either way. (Given several files at once, node sorts them by name.) DEVICELINK_BIN is
# the binary whose `device link` plays the phones in link.test.mjs and manage.test.mjs.
# app.test.mjs and app-linking.test.mjs drive the phone web app (/app/) on http://localhost:8080.
# rp-library.test.mjs starts a devicelink of its own (ports 8280/8281) with its own portals.
# languages.test.mjs walks in French and German (jean and sophie) through the same demo.
# BROWSER_TEST_FILES picks files.
cd "$HERE"
export PORTAL_URL MOCK_IDP_URL CHROMIUM_PATH="$CHROMIUM"
DEVICELINK_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
export DEVICELINK_BIN
failed=0
for file in ${BROWSER_TEST_FILES:-portal.test.mjs link.test.mjs manage.test.mjs dead-ends.test.mjs provider.test.mjs app.test.mjs app-linking.test.mjs rp-library.test.mjs languages.test.mjs dead-ends-more.test.mjs}; do
  log "running $file"
  node --test --test-concurrency=1 "$@" "$file" || failed=1
done
exit "$failed"
