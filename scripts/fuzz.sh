#!/usr/bin/env bash
# Fuzz the parsers that take outside input (cargo-fuzz + libFuzzer), each target for a bounded
# time. Targets (fuzz/fuzz_targets/): markdown, html, help_center_json (Zendesk, Intercom),
# pii (the PII and injection detectors), webhooks (signed helpdesk bodies through the router).
#
#   scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]   # all targets by default
#
# - cargo-fuzz is installed into ${FATHOM_CACHE:-~/.cache/fathom}/cargo-fuzz when missing.
# - Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly
#   flags. No sanitizer: Fathom's crates forbid `unsafe`, so what fuzzing finds here is panics,
#   failed assertions, hangs and runaway memory, which libFuzzer catches on its own at twice
#   the speed of an ASan build.
# - The build has its own target folder (fuzz/target), never the workspace's shared one.
# - Seeds are in fuzz/seeds/<target>; the growing corpus in fuzz/corpus/<target> (not in git).
#   A crash is saved in fuzz/artifacts/<target>/ and this script exits 1: turn the input into a
#   regression test in the crate that had the bug, then fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(markdown html help_center_json pii webhooks)

cache="${FATHOM_CACHE:-$HOME/.cache/fathom}"
fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
  export PATH="$cache/cargo-fuzz/bin:$PATH"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz $fuzz_version into $cache/cargo-fuzz"
  CARGO_TARGET_DIR="$cache/cargo-fuzz-build" CARGO_BUILD_BUILD_DIR="$cache/cargo-fuzz-build" \
    cargo install --locked --quiet cargo-fuzz --version "$fuzz_version" --root "$cache/cargo-fuzz"
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/fuzz/target" CARGO_BUILD_BUILD_DIR="$PWD/fuzz/target"
started=$SECONDS
echo "==> building the fuzz targets (fuzz/target)"
cargo fuzz build --sanitizer none --debug-assertions
echo "==> built in $((SECONDS - started)) s"

failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/target/$target.log"
  mkdir -p "$corpus" "$artifacts"
  echo "==> fuzzing $target for $seconds s"
  # -timeout: an input taking longer is a hang; -rss_limit_mb: runaway memory is a failure.
  status=0
  cargo fuzz run --sanitizer none --debug-assertions "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE" "$log" || true
  if ((status)) || compgen -G "$artifacts/*" >/dev/null; then
    grep -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written|deadly signal|timeout|out-of-memory" "$log" | head -20 || true
    echo "!! $target: a crashing input is in $artifacts/ (full log: $log)"
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "!! crashes in: ${failed[*]}"
  exit 1
fi
echo "==> no crash in ${targets[*]} ($seconds s each)"
