#!/bin/sh
# The long crash loop (issue 10): the suite's crash loop (tests/crash.rs) with hundreds of
# iterations, four SIGKILLs each (first apply, change, destroy then apply, destroy), against
# simulated hosts. Prints every kill point, every leak and "crash loop: C of T converged".
#
#   benches/crash_loop.sh                 200 iterations from seed 1
#   SWARMFORM_CRASH_ITERATIONS=50 SWARMFORM_CRASH_SEED=1000 benches/crash_loop.sh
#
# Not run by `cargo test` (the test is #[ignore]d there); exits non-zero when anything leaked.
set -eu
cd "$(dirname "$0")/.."
export SWARMFORM_CRASH_ITERATIONS="${SWARMFORM_CRASH_ITERATIONS:-200}"
export SWARMFORM_CRASH_SEED="${SWARMFORM_CRASH_SEED:-1}"
exec cargo test --locked --release --test integration crash_loop_long -- --ignored --nocapture
