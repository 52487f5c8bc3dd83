#!/usr/bin/env bash
# Build what ships (the Docker image, a download): the release binary without its debug info,
# plus that debug info in a separate symbols file.
#
#   scripts/dist.sh [OUT]      # default target/dist: OUT/fathom and OUT/fathom.debug
#
# The release profile keeps line tables (`debug = "line-tables-only"`), most of the binary's
# size. The shipped `fathom` keeps its symbol table, so a panic's backtrace (RUST_BACKTRACE=1)
# still names every function; with `fathom.debug` beside it (or in /usr/lib/debug), found
# through the binary's .gnu_debuglink, it shows file:line as well. Needs binutils (objcopy).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-target/dist}"
cargo build --release --locked -p fathom
built="${CARGO_TARGET_DIR:-target}/release/fathom"
mkdir -p "$out"
rm -f "$out/fathom" "$out/fathom.debug"
objcopy --only-keep-debug --compress-debug-sections=zlib "$built" "$out/fathom.debug"
# The debuglink names the symbols file; it must sit beside the binary or in /usr/lib/debug.
objcopy --strip-debug --add-gnu-debuglink="$out/fathom.debug" "$built" "$out/fathom"
size() { stat -c %s "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
echo "release build: $built ($(size "$built"))"
echo "ships:         $out/fathom ($(size "$out/fathom"))"
echo "symbols:       $out/fathom.debug ($(size "$out/fathom.debug"); keep it to read backtraces with file:line)"
