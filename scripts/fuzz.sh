#!/usr/bin/env bash
# Fuzzes every parser that takes a peer's bytes (cargo-fuzz, libFuzzer), one target after
# another, each for SECONDS (default 600), and prints per target the executions, the corpus
# size and the findings. Exits non-zero when any target crashed (the input is in
# fuzz/artifacts/<target>/). Not part of CI: run it by hand, e.g. under `nice -n 19`.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS 0 runs nothing (with FUZZ_CMIN=1: only minimizes).
#
# The committed corpus (fuzz/corpus/<target>) seeds each run; what a run finds goes to a working
# corpus under fuzz/target/corpus/<target>. FUZZ_CMIN=1 merges that back into the committed
# corpus, minimized (`cargo fuzz cmin`), after the runs.
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none.
#   FUZZ_CMIN       1: minimize the working corpus into fuzz/corpus after the runs.
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536".
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

seconds="${1:-600}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]  (got seconds '$seconds')" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

# The pinned toolchain is stable; cargo-fuzz passes nightly-only flags (-Zsanitizer and friends),
# which a stable compiler accepts with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
for target in "${targets[@]}"; do
    cargo fuzz build --sanitizer "$sanitizer" "$target"
done

logs="$root/fuzz/target/logs"
mkdir -p "$logs"
rows=()
failed=0
for target in "${targets[@]}"; do
    [[ "$seconds" == 0 ]] && break
    seeds="corpus/$target"
    work="target/corpus/$target"
    artifacts="artifacts/$target"
    mkdir -p "$seeds" "$work" "$artifacts"
    before=$(find "$artifacts" -type f | wc -l)
    log="$logs/$target.log"
    echo "== $target: ${seconds}s, log in $log"
    status=0
    # -malloc_limit_mb: one allocation over 256 MB is a finding (peer bytes must not size our
    # buffers); -rss_limit_mb bounds the whole process; -timeout: one input over 10 s hangs.
    # shellcheck disable=SC2086
    cargo fuzz run --sanitizer "$sanitizer" "$target" "$work" "$seeds" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=256 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    corpus=$(find "$work" -type f | wc -l)
    findings=$(($(find "$artifacts" -type f | wc -l) - before))
    if [[ $status -ne 0 ]]; then
        failed=1
        echo "!! $target failed (exit $status); last lines of $log:"
        tail -n 30 "$log"
    fi
    rows+=("$(printf '%-16s %8s %14s %8s %9s' "$target" "$seconds" "${execs:-?}" "$corpus" "$findings")")
done

if [[ "${FUZZ_CMIN:-0}" == 1 ]]; then
    for target in "${targets[@]}"; do
        echo "== minimizing corpus/$target"
        mkdir -p "target/cmin/$target"
        cp -n "target/corpus/$target"/* "target/cmin/$target"/ 2>/dev/null || true
        cp -n "corpus/$target"/* "target/cmin/$target"/ 2>/dev/null || true
        cargo fuzz cmin --sanitizer "$sanitizer" "$target" "target/cmin/$target" >"$logs/$target.cmin.log" 2>&1
        # Inputs that once crashed stay, whatever their coverage.
        cp -n "corpus/$target"/regression-* "target/cmin/$target"/ 2>/dev/null || true
        rm -rf "corpus/$target"
        mv "target/cmin/$target" "corpus/$target"
    done
fi

echo
printf '%-16s %8s %14s %8s %9s\n' target seconds executions corpus findings
if [[ ${#rows[@]} -gt 0 ]]; then printf '%s\n' "${rows[@]}"; fi
exit "$failed"
