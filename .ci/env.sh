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
# No RUSTFLAGS: mold was measured as linker and did not help (docs/development.md), and
# any RUSTFLAGS would give every crate other fingerprints than a developer's build.
