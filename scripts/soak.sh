#!/bin/sh
# The soak (not part of the test suite): 1,000,000 calls through one client, alternating a serde
# and a protobuf interface, sampling the host's and the plugin's resident memory and open
# descriptors every 10,000 calls. Writes the samples as CSV and prints a summary with a verdict;
# exits 0 when both stay flat (the rule is in tests/src/bin/soak-host.rs), 1 when not, 2 when a
# call failed.
#
#   scripts/soak.sh                      # the full run, a few minutes in release mode
#   scripts/soak.sh --calls 100000       # fewer calls
#   SOAK_CSV=/tmp/soak.csv scripts/soak.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p plugin-tests \
  --bin soak-host --bin serde-fixture
target=$(cargo metadata --quiet --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
csv=${SOAK_CSV:-$target/soak.csv}
status=0
"$target/release/soak-host" --plugin "$target/release/serde-fixture" --csv "$csv" "$@" || status=$?
echo "samples: $csv"
exit $status
