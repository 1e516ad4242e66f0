#!/usr/bin/env bash
# Copies the libraries of the phone web app from the pinned npm lock file into
# static/app/vendor/ (checked in; nothing downloads when devicelink builds or starts):
#   @fluent/bundle  its official ESM build (esm/*.js), renders locales/<lang>/app.ftl
#   jsqr            the QR decoder used where the browser has no BarcodeDetector
# Usage: tools/vendor-app/vendor.sh   (then review and commit static/app/vendor/)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/static/app/vendor"

(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
NM="$HERE/node_modules"
version() { node -p "require('$NM/$1/package.json').version"; }

rm -rf "$OUT/fluent-bundle" "$OUT/jsqr"
mkdir -p "$OUT/fluent-bundle" "$OUT/jsqr"

cp "$NM/@fluent/bundle/esm/"*.js "$OUT/fluent-bundle/"
# The package ships no licence file; its licence is Apache-2.0 (package.json), whose
# text is the same as jsqr's.
node -e "if (require('$NM/@fluent/bundle/package.json').license !== 'Apache-2.0') process.exit(1)" \
  || { echo "@fluent/bundle changed its licence: review before vendoring" >&2; exit 1; }
cp "$NM/jsqr/LICENSE" "$OUT/fluent-bundle/LICENSE"

cp "$NM/jsqr/dist/jsQR.js" "$OUT/jsqr/jsQR.js"
cp "$NM/jsqr/LICENSE" "$OUT/jsqr/LICENSE"

cat >"$OUT/README.md" <<README
# Vendored libraries of the phone web app

Made by \`tools/vendor-app/vendor.sh\` from \`tools/vendor-app/package-lock.json\`; do not
edit by hand. Served by devicelink under \`/app/vendor/\` (compiled into the binary).

| folder | npm package | version | licence |
|---|---|---|---|
| \`fluent-bundle/\` | \`@fluent/bundle\` (its \`esm/\` build) | $(version @fluent/bundle) | Apache-2.0 (\`fluent-bundle/LICENSE\`) |
| \`jsqr/\` | \`jsqr\` (\`dist/jsQR.js\`) | $(version jsqr) | Apache-2.0 (\`jsqr/LICENSE\`) |
README
echo "vendored into $OUT:" >&2
(cd "$OUT" && find . -type f | sort) >&2
