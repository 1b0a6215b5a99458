//! Generates the `proto.KV` messages from `proto/kv.proto` with protox (a protobuf compiler
//! in Rust, so no `protoc` is needed) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["kv.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
