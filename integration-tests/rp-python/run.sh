#!/usr/bin/env bash
# pyoidc (an OpenID-certified Python relying party, from PyPI) against devicelink's provider:
# a venv in a fresh temporary directory, `devicelink demo` there on 127.0.0.1:8380 (mock
# eAccess on :8381, back-channel receiver on :8382), then rp.py. Exit status: rp.py's.
# Usage: DEVICELINK_BIN=/path/to/devicelink integration-tests/rp-python/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${DEVICELINK_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/devicelink}"
WAIT_SECS="${DEVICELINK_WAIT_SECS:-60}"
log() { printf '[rp-python] %s\n' "$*" >&2; }
[[ -x "$BIN" ]] || { log "no devicelink binary at $BIN (set DEVICELINK_BIN)"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/devicelink-rp-python.XXXXXX")"
SERVER_PID=""
cleanup() {
  local status=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    [[ -s "$WORK/devicelink.log" ]] && { log "end of the server log:"; tail -n 40 "$WORK/devicelink.log" >&2; }
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT

for url in http://127.0.0.1:8380/healthz http://127.0.0.1:8381/.well-known/openid-configuration; do
  if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
    log "something already answers at $url: ports 8380-8382 must be free"; exit 1
  fi
done

# Hash-checked install: every file pip fetches must match requirements.txt.
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$HERE/requirements.txt"
PY="$WORK/venv/bin/python"
log "$("$PY" -c 'import importlib.metadata as m; print("oic (pyoidc)", m.version("oic"))')"

"$PY" "$HERE/rp.py" config "$WORK"
(cd "$WORK" && exec "$BIN" demo --config "$WORK/devicelink.toml") >"$WORK/devicelink.log" 2>&1 </dev/null &
SERVER_PID=$!
deadline=$((SECONDS + WAIT_SECS))
for url in http://127.0.0.1:8380/healthz http://127.0.0.1:8381/.well-known/openid-configuration; do
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { log "devicelink demo exited before $url answered"; exit 1; }
    ((SECONDS < deadline)) || { log "no answer from $url within ${WAIT_SECS}s"; exit 1; }
    sleep 0.3
  done
done

"$PY" "$HERE/rp.py" run "$WORK"
