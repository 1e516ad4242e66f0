#!/usr/bin/env bash
# Installs the eAccess test peer (oidc-provider, pinned in package-lock.json, the same
# version as bench/peer) into integration-tests/eaccess-peer/node_modules.
# Idempotent: npm ci always lays node_modules anew from the lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "install.sh: Node.js (>= 18, tested on 20) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is required" >&2; exit 1; }
npm ci --no-audit --no-fund
