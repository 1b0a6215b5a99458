//! Generates the `tfplugin6` messages from `proto/tfplugin6.proto` with protox (a protobuf
//! compiler in Rust, so no `protoc` is needed) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["tfplugin6.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-env-changed=PATH");
    let terraform = std::process::Command::new("terraform")
        .arg("version")
        .output();
    if !terraform.is_ok_and(|o| o.status.success()) {
        println!(
            "cargo:warning=no `terraform` on the PATH: the provider's Terraform tests will be \
             SKIPPED (install Terraform 1.11 or later to run them; CI requires it)"
        );
    }
    Ok(())
}
