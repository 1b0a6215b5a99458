//! A plugin for the test suite: the KV interface with keys that trigger behaviours, and modes
//! (`FIXTURE_MODE`) that misbehave before or during the handshake.
//!
//! Keys: `stdout`/`stderr` (Put writes the value there), `child-stdout` (a child process
//! writes the value to the inherited fd 1), `log-<level>` (logs the value with fields
//! `answer=42`), `exit` (exits with status 3 mid-call), `panic`, `sleep` (value = ms),
//! `version` (Get: the negotiated version), `env:NAME` (Get: that variable), `pid` (Get).

use std::collections::HashMap;
use std::error::Error;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use plugin_fixtures::kv::{Empty, GetRequest, GetResponse, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Listen, PluginSet, ServeConfig, ServeTestConfig, Status};

struct Fixture {
    version: u32,
    values: Mutex<HashMap<String, Vec<u8>>>,
}

#[plugin_runtime::async_trait]
impl Kv for Fixture {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let key = request.key;
        let value = match key.as_str() {
            "version" => self.version.to_string().into_bytes(),
            "pid" => std::process::id().to_string().into_bytes(),
            k if k.starts_with("env:") => std::env::var(&k[4..])
                .map_err(|_| Status::not_found(format!("{} is not set", &k[4..])))?
                .into_bytes(),
            _ => self
                .values
                .lock()
                .map_err(|_| Status::internal("poisoned"))?
                .get(&key)
                .cloned()
                .ok_or_else(|| Status::not_found(format!("no value for key {key:?}")))?,
        };
        Ok(GetResponse { value })
    }

    async fn put(&self, request: PutRequest) -> Result<Empty, Status> {
        let text = String::from_utf8_lossy(&request.value).into_owned();
        match request.key.as_str() {
            "stdout" => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&request.value).and_then(|()| out.flush());
            }
            "stderr" => {
                let _ = std::io::stderr().lock().write_all(&request.value);
            }
            "child-stdout" => {
                let _ = std::process::Command::new("printf")
                    .arg("%s")
                    .arg(&text)
                    .status();
            }
            "log-trace" => tracing::trace!(answer = 42, source = "rust", "{text}"),
            "log-debug" => tracing::debug!(answer = 42, source = "rust", "{text}"),
            "log-info" => tracing::info!(answer = 42, source = "rust", "{text}"),
            "log-warn" => tracing::warn!(answer = 42, source = "rust", "{text}"),
            "log-error" => tracing::error!(answer = 42, source = "rust", "{text}"),
            "exit" => std::process::exit(3),
            "panic" => panic!("fixture panics on purpose: {text}"),
            "sleep" => {
                let ms = text.parse().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            _ => {}
        }
        self.values
            .lock()
            .map_err(|_| Status::internal("poisoned"))?
            .insert(request.key, request.value);
        Ok(Empty {})
    }
}

fn plugins(version: u32) -> PluginSet {
    PluginSet::new().with(
        "kv",
        KvPlugin::new(Fixture {
            version,
            values: Mutex::new(HashMap::new()),
        }),
    )
}

fn config() -> ServeConfig {
    let mut config = ServeConfig::new(handshake());
    let versions = std::env::var("FIXTURE_VERSIONS").unwrap_or_else(|_| "1".into());
    // Versions whose set keeps to gRPC even with a host of this SDK.
    let grpc_only = std::env::var("FIXTURE_GRPC_ONLY_VERSIONS").unwrap_or_default();
    let grpc_only: Vec<u32> = grpc_only
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    for v in versions.split(',').filter_map(|v| v.trim().parse().ok()) {
        let set = plugins(v).native_transport(!grpc_only.contains(&v));
        config = config.versioned_plugins(v, set);
    }
    config
}

/// An interface with no gRPC implementation (a net/rpc-only one), wrongly in a gRPC set:
/// serving must fail before the handshake line, saying so.
struct NetRpcOnly;

impl plugin_runtime::Plugin for NetRpcOnly {
    fn interface(&self) -> &'static str {
        "dyn fixture::NetRpcOnly"
    }
}

/// A hand-written registration that spawns a task, which it may only do inside a runtime:
/// under `serve_main` it runs before the runtime exists and must fail naming the fix.
struct SpawnsAtRegistration;

impl plugin_runtime::Plugin for SpawnsAtRegistration {
    fn interface(&self) -> &'static str {
        "dyn fixture::SpawnsAtRegistration"
    }

    fn grpc_server(
        &self,
        _registry: &mut plugin_runtime::ServiceRegistry,
    ) -> Result<(), plugin_runtime::ServeError> {
        tokio::spawn(async {});
        Ok(())
    }
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() {
    let mode = std::env::var("FIXTURE_MODE").unwrap_or_default();
    match mode.as_str() {
        "exit-early" => {
            eprintln!("fixture: cannot open /nonexistent/config.toml, giving up");
            std::process::exit(7);
        }
        "junk" => {
            println!("hello from a misbehaving plugin");
            sleep_forever();
        }
        "junk-exit" => {
            println!("this is not a handshake");
            std::process::exit(2);
        }
        "silent" => sleep_forever(),
        "bad-core" => {
            println!("2|1|unix|/tmp/nowhere|grpc|");
            sleep_forever();
        }
        "netrpc" => {
            println!("1|1|unix|/tmp/nowhere|netrpc|");
            sleep_forever();
        }
        "no-cert" => {
            // SAFETY: single-threaded: no runtime or other thread exists yet.
            unsafe { std::env::remove_var(plugin_runtime::env::CLIENT_CERT) };
        }
        "grandchild" => {
            let child = std::process::Command::new("sleep").arg("1000").spawn();
            if let (Ok(child), Ok(file)) = (child, std::env::var("FIXTURE_PID_FILE")) {
                let _ = std::fs::write(file, child.id().to_string());
            }
        }
        "serve-main" | "no-grpc-main" | "spawns-main" => {
            // The SDK's own `main`, which builds its runtime once the handshake line is out.
            let mut config = plugin_tests::transport_of_test(config());
            if mode == "no-grpc-main" {
                config = config.plugins(PluginSet::new().with("kv", NetRpcOnly));
            }
            if mode == "spawns-main" {
                config = config.plugins(PluginSet::new().with("spawns", SpawnsAtRegistration));
            }
            let code = plugin_runtime::serve_main(config);
            std::process::exit(if code == std::process::ExitCode::SUCCESS {
                0
            } else {
                1
            });
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fixture: no runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        let mut config = plugin_tests::transport_of_test(config());
        if mode == "tcp" {
            config = config.listen(Listen::Tcp);
        }
        if mode == "manual-tls" {
            config = config.tls(manual_tls()?);
        }
        if mode == "test-mode" {
            return test_mode(config).await;
        }
        if mode == "no-grpc" {
            config = config.plugins(PluginSet::new().with("kv", NetRpcOnly));
        }
        if mode == "spawns" {
            config = config.plugins(PluginSet::new().with("spawns", SpawnsAtRegistration));
        }
        Ok(plugin_runtime::serve(config).await?)
    });
    if let Err(e) = result {
        eprintln!("fixture: {e}");
        std::process::exit(1);
    }
    if mode == "stubborn" {
        // Ignores the shutdown it was asked for: the host has to force it.
        sleep_forever();
    }
}

/// A server config from FIXTURE_TLS_DIR (ca.pem, server.pem, server.key): clients must present
/// a certificate issued by the CA.
fn manual_tls() -> Result<plugin_runtime::rustls::ServerConfig, Box<dyn Error>> {
    use plugin_runtime::rustls;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::PathBuf::from(std::env::var("FIXTURE_TLS_DIR")?);
    let ca = CertificateDer::from_pem_file(dir.join("ca.pem"))?;
    let cert = CertificateDer::from_pem_file(dir.join("server.pem"))?;
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca)?;
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()?;
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)?)
}

/// go-plugin's test mode: print the reattach config as one JSON line, serve until stdin closes.
async fn test_mode(config: ServeConfig) -> Result<(), Box<dyn Error>> {
    let stop = async {
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await;
    };
    let (test, reattach) = ServeTestConfig::new(stop);
    let server = tokio::spawn(plugin_runtime::serve(config.test(test)));
    if let Ok(reattach) = reattach.await {
        let map = plugin_runtime::ReattachMap::from([("kv".to_string(), reattach)]);
        println!("{}", serde_json::to_string(&map)?);
    }
    Ok(server.await??)
}
