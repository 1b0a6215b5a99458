#!/usr/bin/env bash
# Builds OpenTofu's `tofu` from source through the Go module proxy (no prebuilt download) and
# prints the binary's path, for the provider's CLI tests (PLUGIN_TESTS_TOFU=<path>). A build
# already there is reused. Usage: build-tofu.sh [OUT_DIR]   (default: target/tofu-<version>)
# The version: TOFU_VERSION (default below). Takes some minutes on 2 cores the first time.
set -euo pipefail
version=${TOFU_VERSION:-v1.10.10}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/tofu-$version}
bin=$out/tofu
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-tofu: go is missing: install a Go toolchain" >&2; exit 1; }
module=github.com/opentofu/opentofu
# `go install module@version` refuses modules with replace directives (OpenTofu has one), so
# build inside the downloaded module instead, as its own main module.
dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "build-tofu: could not download $module@$version" >&2; exit 1; }
mkdir -p "$out"
(cd "$dir" && go build -trimpath -o "$bin.partial" ./cmd/tofu) >&2
mv "$bin.partial" "$bin"
echo "$bin"
