//! Generates the `proto.Configure`, `proto.Read` and `proto.Write` messages from
//! `proto/streamer.proto` with protox (a protobuf compiler in Rust, so no `protoc` is needed)
//! and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["streamer.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
