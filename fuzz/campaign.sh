#!/usr/bin/env bash
# Fuzz campaign: runs every cargo-fuzz target of fuzz/Cargo.toml for a budget, keeps the
# corpus in the repository and records the figures (docs/security.md, "Fuzzing").
#
#   fuzz/campaign.sh [--runs N | --seconds S] [target ...]
#
#   --runs N      libFuzzer -runs=N per target (default 10000000)
#   --seconds S   libFuzzer -max_total_time=S per target instead
#   target ...    only these targets (default: all, from `cargo fuzz list`)
#
# Per target: corpus in fuzz/corpus/<target>/ (minimised in place with `cargo fuzz cmin`
# after the run), crash inputs in fuzz/artifacts/<target>/, a log in
# fuzz/target/campaign-logs/<target>.log, and one line appended to
# fuzz/campaign-results.tsv. Exits non-zero if any target crashed, naming the artefact.
# Run it under `nice -n 19` on a shared machine; it uses one core (one libFuzzer process).
set -euo pipefail

cd "$(dirname "$0")"
budget=(-runs=10000000)
targets=()
while (($#)); do
  case "$1" in
    --runs) budget=(-runs="$2"); shift 2 ;;
    --seconds) budget=(-max_total_time="$2"); shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# The fuzz workspace builds into its own fuzz/target with cargo-fuzz's sanitizer flags;
# a caller's target dir or RUSTFLAGS (e.g. CI's linker settings) must not leak into it.
unset CARGO_TARGET_DIR RUSTFLAGS
# cargo-fuzz passes nightly-only flags (-Zsanitizer=...); this lets the stable toolchain
# accept them.
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)

results=campaign-results.tsv
[[ -s $results ]] ||
  printf 'date\tcommit\ttarget\tbudget\texecutions\tcov\tft\tcorpus_files\tcorpus_kb\tcrashes\tseconds\n' >"$results"
commit=$(git describe --always --dirty --abbrev=12)
logs=target/campaign-logs
mkdir -p "$logs"
cargo fuzz build  # all targets, once, before the clock starts
failed=()

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(ls "artifacts/$t")
  start=$SECONDS
  # libFuzzer stops at the first crash; cargo fuzz then exits non-zero (not fatal here:
  # the other targets still run and the crash is reported below).
  cargo fuzz run "$t" "corpus/$t" -- "${budget[@]}" -print_final_stats=1 2>&1 | tee "$logs/$t.log" | grep -E '^#[0-9]+.*(pulse|DONE)|^==|panicked|Test unit written' || true
  secs=$((SECONDS - start))
  # Figures from libFuzzer's output: the executed-units stat and the last "#N ... cov: ft:" line.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  last=$(grep -E '^#[0-9]+.* cov: ' "$logs/$t.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  : "${execs:=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")}"  # no final stats after a crash
  new=$(comm -13 <(echo "$before") <(ls "artifacts/$t") | sed "s|^|fuzz/artifacts/$t/|")
  crashes=$(grep -c . <<<"$new" || true)

  cargo fuzz cmin "$t" "corpus/$t" >>"$logs/$t.log" 2>&1 ||  # minimise the corpus in place
    echo "WARNING: cmin of $t failed, see fuzz/$logs/$t.log" >&2
  files=$(find "corpus/$t" -type f | wc -l)
  kb=$(du -sk --apparent-size "corpus/$t" | cut -f1)  # bytes in git, not disk blocks

  printf '%s: %s executions, cov %s, ft %s, corpus %s files (%s KB), %s crashes, %ss\n' \
    "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$kb" "$crashes" "$secs"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$commit" "$t" \
    "${budget[*]}" "${execs:-}" "${cov:-}" "${ft:-}" "$files" "$kb" "$crashes" "$secs" >>"$results"
  ((kb <= 2048)) || echo "WARNING: corpus/$t is over 2 MB after cmin" >&2
  if ((crashes)); then
    echo "CRASH in $t: $new (replay: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t ${new#fuzz/})" >&2
    failed+=("$t")
  fi
done

((${#failed[@]} == 0)) || { echo "crashed: ${failed[*]}" >&2; exit 1; }
