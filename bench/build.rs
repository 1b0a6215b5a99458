//! Generates the callback benchmark's `bench.Caller` and `bench.Callback` messages from
//! `proto/callback.proto`, the file the Go fixtures' code is generated from too, with protox (a
//! protobuf compiler in Rust, so no `protoc` is needed) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["callback.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
