//! Generates the benchmarks' own messages, `bench.Caller` and `bench.Callback` of the callback
//! round trip (`proto/callback.proto`) and `bench.Transfer` of the stream throughput
//! (`proto/transfer.proto`), from the files the Go fixtures' code is generated from too, with
//! protox (a protobuf compiler in Rust, so no `protoc` is needed) and prost-build. A `Chunk`'s
//! data is `bytes::Bytes`, so that sending one item many times copies nothing.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["callback.proto", "transfer.proto"], ["proto"])?;
    prost_build::Config::new()
        .bytes([".bench.Chunk.data"])
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
