#!/bin/sh
# The main demo: the `kv` host launches the `kv-plugin` plugin (AutoMTLS on, gRPC over a unix
# socket), stores a value through it, reads it back and stops it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$root/Cargo.toml" -p kv-example
target=$(cargo metadata --quiet --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
kv="$target/debug/kv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "\$ kv put hello 'world, from a plugin'"
"$kv" put hello 'world, from a plugin'
echo "\$ kv get hello"
"$kv" get hello
echo "(the plugin stored it in $work/kv_hello and has exited; nothing is left running)"
