#!/usr/bin/env bash
# A fuzz run of the validate path for SECONDS (default 60), for CI: `fuzz/run.sh 60`. Needs the
# nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Starts from the seeds
# (fuzz/seeds/, see seed.sh), the regressions and what earlier runs found (fuzz/corpus/, not
# committed); a crash, an overflow, a leak or an input slower than 10 s fails the run, with the
# input in fuzz/artifacts/validate/ (add it to fuzz/regressions/ once fixed). Further arguments
# go to libFuzzer, e.g. `fuzz/run.sh 0 -runs=1000000`. Installs cargo-fuzz when missing. Builds
# with the nightly toolchain when rustup has one, else with the stable one and RUSTC_BOOTSTRAP=1
# (the sanitizer flags cargo-fuzz passes are nightly-only; stable ships the same runtimes).
# SANITIZER=none builds without AddressSanitizer (about twice the executions per second, for long
# runs; the validate path's only unsafe code is the `open` in config::read).
set -euo pipefail

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --version 0.13.2
fi
if cargo +nightly --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi

seconds=${1:-60}
shift || true
fuzz=$(cd "$(dirname "$0")" && pwd)
corpus="$fuzz/corpus/validate"
mkdir -p "$corpus"
# The target's project folders (one per process) go in a folder of this run's own.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cd "$fuzz/.."
TMPDIR="$scratch" cargo "${toolchain[@]}" fuzz run --debug-assertions --sanitizer "${SANITIZER:-address}" validate "$corpus" "$fuzz/seeds" "$fuzz/regressions" -- \
    -dict="$fuzz/validate.dict" -max_total_time="$seconds" -timeout=10 -max_len=65536 \
    -print_final_stats=1 "$@"
