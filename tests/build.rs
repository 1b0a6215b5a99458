//! Says at build time, where everyone sees it, when the go-plugin interop tests will be skipped.

fn main() {
    println!("cargo:rerun-if-env-changed=PATH");
    let go = std::process::Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        println!(
            "cargo:warning=no Go toolchain found: the go-plugin interop tests will be SKIPPED \
             (install Go to run them; CI requires it)"
        );
    }
}
