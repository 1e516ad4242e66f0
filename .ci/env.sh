# The build environment of CI, sourced by .ci/run; a developer sources it too
# (`. .ci/env.sh`) to share CI's build cache and get byte-for-byte the same fingerprints.
#
# The cargo target folder lives outside the clone, in a cache folder that survives
# between runs on the same machine: a fresh clone then recompiles only the crates whose
# sources changed. Cargo's own fingerprints decide what is rebuilt; nothing is skipped
# because a cache exists. A machine without the folder simply starts cold.
export DEVICELINK_CI_CACHE="${DEVICELINK_CI_CACHE:-/var/cache/devicelink-ci}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DEVICELINK_CI_CACHE/target}"
# Incremental compilation only pays for repeated edits of one tree; for a one-shot build
# it writes (and CI would cache) gigabytes of query data for nothing.
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never
# mold links the big test binaries several times faster than GNU ld (figures in
# docs/development.md). .ci/run installs it; without it the default linker is used,
# which builds the same code under other fingerprints.
if command -v mold >/dev/null 2>&1; then
  export RUSTFLAGS="${RUSTFLAGS:--C link-arg=-fuse-ld=mold}"
fi
