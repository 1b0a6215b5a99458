//! `terraform-provider-rkv`: Terraform launches it as a plugin.
//!
//! `terraform-provider-rkv --debug [--address ADDR]` serves in debug mode instead: the provider
//! keeps running on its own (under a debugger, say) and prints the `TF_REATTACH_PROVIDERS`
//! value that makes Terraform use it rather than start one. `ADDR` is the provider's source
//! address as the configuration names it (default `registry.terraform.io/hashicorp/rkv`, what
//! an unqualified `rkv` means). It serves until SIGINT (Ctrl-C) or SIGTERM.

use std::error::Error;
use std::process::ExitCode;

use plugin_runtime::{ReattachMap, ServeTestConfig};
use terraform_provider_rkv::{RkvProvider, serve_config};

const DEFAULT_ADDRESS: &str = "registry.terraform.io/hashicorp/rkv";
const USAGE: &str = "usage: terraform-provider-rkv [--debug [--address ADDR]]";

#[tokio::main]
async fn serve_debug(address: String) -> Result<(), Box<dyn Error>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stop = async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    let (test, reattach) = ServeTestConfig::new(stop);
    let server = tokio::spawn(plugin_runtime::serve(
        serve_config(RkvProvider::new()).test(test),
    ));
    if let Ok(reattach) = reattach.await {
        let map = ReattachMap::from([(address, reattach)]);
        let json = serde_json::to_string(&map)?;
        println!(
            "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
             variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n\n\
             (The key is the provider's source address; start it with `--address \
             HOST/NAMESPACE/rkv` if your configuration names it otherwise.) Stop it with Ctrl-C."
        );
    }
    Ok(server.await??)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let address = match args[..] {
        [] => return plugin_runtime::serve_main(serve_config(RkvProvider::new())),
        ["--debug" | "-debug"] => DEFAULT_ADDRESS.to_owned(),
        ["--debug" | "-debug", "--address" | "-address", address] => address.to_owned(),
        ["--debug" | "-debug", flag] if flag.starts_with("--address=") => {
            flag["--address=".len()..].to_owned()
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve_debug(address) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-rkv: {e}");
            ExitCode::FAILURE
        }
    }
}
