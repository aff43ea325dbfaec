#!/usr/bin/env bash
# Runs each fuzz target (SIP parsing, CTI frames) for a bounded time (default 30 s each).
# cargo-fuzz drives libFuzzer; on a stable toolchain RUSTC_BOOTSTRAP lets it pass the
# sanitizer-coverage flags it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/sip_parse
cp -n fuzz/seeds/* fuzz/corpus/sip_parse/ 2>/dev/null || true
cargo fuzz run sip_parse --fuzz-dir fuzz -- -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 2>&1 | tail -n 5
mkdir -p fuzz/corpus/cti_frames
cp -n fuzz/seeds-cti/* fuzz/corpus/cti_frames/ 2>/dev/null || true
cargo fuzz run cti_frames --fuzz-dir fuzz -- -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 2>&1 | tail -n 5
