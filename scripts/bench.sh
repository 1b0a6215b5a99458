#!/bin/sh
# Benchmarks: rust-plugin against go-plugin and against the physical floor, side by side, in
# one run on this machine. Builds the harness (`plugin-bench`) and the Rust bench plugin in
# release; the harness builds the Go fixtures of tests/go into target/bench-go (without Go,
# the go-plugin rows are reported as skipped), measures for three to four minutes, prints the
# markdown report and writes docs/bench/results.json, docs/bench/results.md and
# docs/bench/chart.png. Extra arguments go to plugin-bench (e.g. `--out DIR`, `--tiny`).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p plugin-bench
target=$(cargo metadata --quiet --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "$target/release/plugin-bench" --out "$root/docs/bench" "$@"
