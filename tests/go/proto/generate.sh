#!/bin/sh
# Regenerates kv.pb.go and kv_grpc.pb.go from the KV example's proto,
# examples/kv/proto/kv.proto: the one definition of proto.KV, which the Rust
# side (examples/kv, tests/fixtures) compiles at build time; and
# bench/callback.pb.go and bench/callback_grpc.pb.go from the callback
# benchmark's bench/proto/callback.proto (package bench, compiled at build
# time by plugin-bench); and bench/transfer.pb.go and
# bench/transfer_grpc.pb.go from the stream-throughput benchmark's
# bench/proto/transfer.proto (package bench too).
# The generated files are committed, so building the fixtures needs only
# `go build`; run this only after changing a .proto.
#
# Requirements:
#   protoc             (Debian/Ubuntu: apt-get install -y protobuf-compiler)
#   protoc-gen-go      go install google.golang.org/protobuf/cmd/protoc-gen-go@latest
#   protoc-gen-go-grpc go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest
# (both plugins must be on PATH, e.g. PATH="$(go env GOPATH)/bin:$PATH").
#
# The committed files were generated with protoc 3.21.12,
# protoc-gen-go v1.36.12 and protoc-gen-go-grpc 1.6.2.
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
protoc \
  --proto_path=../../../examples/kv/proto \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  kv.proto
protoc \
  --proto_path=../../../bench/proto \
  --go_out=bench --go_opt=paths=source_relative \
  --go-grpc_out=bench --go-grpc_opt=paths=source_relative \
  callback.proto transfer.proto
