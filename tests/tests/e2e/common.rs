//! Helpers shared by the end-to-end tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use plugin_fixtures::kv::{GetRequest, Kv, KvPlugin, PutRequest, handshake};
use plugin_runtime::{Client, ClientConfig, HandshakeConfig, PluginSet, Protocol};
use tracing::Level;

pub const FIXTURE: &str = env!("CARGO_BIN_EXE_fixture-plugin");

/// What the examples' command-line tests use to run a host and check that it leaves nothing
/// behind.
#[path = "../../../examples/tests_common.rs"]
#[allow(dead_code)]
mod examples_common;
pub use examples_common::{assert_nothing_left, pids_in, run_host};

/// The fixture plugin in `mode` (empty: a well-behaved plugin).
pub fn fixture(mode: &str) -> Command {
    let mut cmd = Command::new(FIXTURE);
    cmd.env("FIXTURE_MODE", mode);
    cmd
}

/// go-plugin's own `examples/bidirectional`, built by [`go_bin`] into this subdirectory: its
/// host `bidirectional` and its plugin `plugin-go-grpc`.
pub const GO_BIDIRECTIONAL: &str = "go-plugin-bidirectional";

/// go-plugin's own `examples/streaming`, built by [`go_bin`] into this subdirectory: its host
/// `streaming` and its plugin `plugin`.
pub const GO_STREAMING: &str = "go-plugin-streaming";

/// The directory with the Go peers, built once per run with `go build` in `tests/go`, or `None`
/// (loudly) without Go: `go-kv-host` and `go-kv-plugin` (this suite's fixtures), and in
/// [`GO_BIDIRECTIONAL`] and [`GO_STREAMING`] go-plugin's own bidirectional and streaming
/// examples, built from the go-plugin module that `tests/go/go.mod` pins.
pub fn go_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
        let out = Path::new(FIXTURE)
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("go-fixtures");
        let example = |name: &str, plugin: &str| {
            let example = format!("github.com/hashicorp/go-plugin/examples/{name}");
            vec![format!("{example}/{plugin}"), example]
        };
        let builds = [
            (out.clone(), vec!["./cmd/...".to_string()]),
            (
                out.join(GO_BIDIRECTIONAL),
                example("bidirectional", "plugin-go-grpc"),
            ),
            (out.join(GO_STREAMING), example("streaming", "plugin")),
        ];
        for (dir, packages) in builds {
            let _ = std::fs::create_dir_all(&dir);
            let built = Command::new("go")
                .args(["build", "-o"])
                .arg(format!("{}/", dir.display()))
                .args(&packages)
                .current_dir(&module)
                .output();
            match built {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!(
                    "building the Go peers failed (go build {} in {}):\n{}",
                    packages.join(" "),
                    module.display(),
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => {
                    if std::env::var_os("PLUGIN_TESTS_REQUIRE_GO").is_some() {
                        panic!("Go is required here (PLUGIN_TESTS_REQUIRE_GO) but cannot run: {e}");
                    }
                    eprintln!(
                        "\n=== SKIPPED: go-plugin interop tests: no Go toolchain ({e}). \
                         Install Go to run them. ===\n"
                    );
                    return None;
                }
            }
        }
        Some(out)
    })
    .as_deref()
}

/// The directory of the Go peers ([`go_bin`]), or returns from the test (it says SKIPPED once).
macro_rules! require_go {
    () => {
        match $crate::common::go_bin() {
            Some(dir) => dir,
            None => return,
        }
    };
}
pub(crate) use require_go;

/// A binary of another workspace package, built on demand (the suite builds what it launches).
///
/// Built only when missing: `cargo test --workspace` builds every package's binaries anyway,
/// and a `cargo build -p` from here would resolve other features and rebuild dependencies.
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let path = Path::new(FIXTURE).with_file_name(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {name}");
    }
    path
}

/// A unique name per client, so log assertions only see their own plugin.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A host config for the KV interface running `cmd`.
pub fn config(cmd: Command) -> ClientConfig {
    ClientConfig::new(handshake())
        .command(cmd)
        .plugins(PluginSet::new().with("kv", KvPlugin::host()))
}

pub fn client(cmd: Command) -> Client {
    Client::new(config(cmd)).expect("valid config")
}

/// A host config for the KV interface running `cmd` on `transport`.
pub fn config_on(transport: Transport, cmd: Command) -> ClientConfig {
    transport
        .config(handshake(), cmd)
        .plugins(PluginSet::new().with("kv", KvPlugin::host()))
}

/// A host of the KV interface running `cmd` on `transport`.
pub fn client_on(transport: Transport, cmd: Command) -> Client {
    Client::new(config_on(transport, cmd)).expect("valid config")
}

/// How a Rust host and a Rust plugin talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Their own, the default: the host asks for it, the plugin answers `rustnative`.
    Native,
    /// gRPC, forced by the host (`ClientConfig::native_transport(false)`).
    Grpc,
    /// gRPC, forced by the plugin (`ServeConfig::native_transport(false)`, through
    /// [`plugin_tests::GRPC_ONLY`]) while the host asks for the native transport.
    PluginGrpc,
}

impl Transport {
    /// The plugin's command, told to refuse the native transport if this is [`Transport::PluginGrpc`].
    pub fn plugin(self, mut cmd: Command) -> Command {
        if self == Transport::PluginGrpc {
            cmd.env(plugin_tests::GRPC_ONLY, "1");
        }
        cmd
    }

    /// The host's config, asking for the native transport unless this is [`Transport::Grpc`].
    pub fn host(self, config: ClientConfig) -> ClientConfig {
        config.native_transport(self != Transport::Grpc)
    }

    /// A host's config with `handshake` launching `cmd`, both sides set for this transport.
    pub fn config(self, handshake: HandshakeConfig, cmd: Command) -> ClientConfig {
        self.host(ClientConfig::new(handshake).command(self.plugin(cmd)))
    }

    pub fn is_native(self) -> bool {
        self == Transport::Native
    }

    /// The protocol the handshake must have settled on.
    pub fn protocol(self) -> Protocol {
        if self.is_native() {
            Protocol::RustNative
        } else {
            Protocol::Grpc
        }
    }

    /// Fails the test unless `client` (started) talks to its plugin on this transport.
    pub async fn check(self, client: &Client) {
        assert_eq!(client.protocol(), Some(self.protocol()), "{self:?}");
        let conn = client.connection().await.expect("a connection");
        assert_eq!(conn.is_native(), self.is_native(), "{self:?}");
    }
}

/// For each `scenario`, an `async fn scenario(transport: Transport)` of the calling module: the
/// tests `scenario::native` and `scenario::grpc` (the host forcing gRPC), so that every scenario
/// runs on both transports (`cargo test -p plugin-tests --test e2e ::grpc` runs one side).
/// `multi_thread:` before the list runs them on tokio's multi-threaded runtime.
macro_rules! on_both_transports {
    (multi_thread: $($scenario:ident),+ $(,)?) => {
        $($crate::common::on_both_transports!(
            @pair [tokio::test(flavor = "multi_thread", worker_threads = 4)] $scenario
        );)+
    };
    ($($scenario:ident),+ $(,)?) => {
        $($crate::common::on_both_transports!(@pair [tokio::test] $scenario);)+
    };
    (@pair [$($test:tt)*] $scenario:ident) => {
        mod $scenario {
            use $crate::common::Transport;

            #[$($test)*]
            async fn native() {
                super::$scenario(Transport::Native).await
            }

            #[$($test)*]
            async fn grpc() {
                super::$scenario(Transport::Grpc).await
            }
        }
    };
}
pub(crate) use on_both_transports;

pub async fn kv(client: &Client) -> Arc<dyn Kv> {
    client.dispense::<dyn Kv>("kv").await.expect("dispense kv")
}

pub async fn put(kv: &Arc<dyn Kv>, key: &str, value: &[u8]) {
    kv.put(PutRequest {
        key: key.into(),
        value: value.to_vec(),
    })
    .await
    .unwrap_or_else(|s| panic!("put {key}: {s:?}"));
}

pub async fn get(kv: &Arc<dyn Kv>, key: &str) -> Vec<u8> {
    kv.get(GetRequest { key: key.into() })
        .await
        .unwrap_or_else(|s| panic!("get {key}: {s:?}"))
        .value
}

/// A `Get` of `key` that must fail with a status whose message says `why`.
pub async fn get_fails_saying(kv: &Arc<dyn Kv>, key: &str, why: &str) {
    let err = kv
        .get(GetRequest { key: key.into() })
        .await
        .expect_err("the Get should fail");
    assert!(err.message().contains(why), "{err:?}");
}

/// Waits (bounded) for a condition that must become true; fails the test otherwise.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

pub fn pid_alive(pid: u32) -> bool {
    // A zombie still answers kill(0); look at its state instead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A writer whose bytes the test can read back.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An event the host emitted for a plugin's log line.
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub level: Level,
    pub plugin: String,
    pub message: String,
    pub fields: String,
}

static EVENTS: OnceLock<Mutex<Vec<LogEvent>>> = OnceLock::new();

struct Capture;

#[derive(Default)]
struct Fields {
    plugin: String,
    message: String,
    fields: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "plugin" => self.plugin = text,
            "message" => self.message = text,
            "fields" => self.fields = text,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "plugin" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        EVENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .push(LogEvent {
                level: *event.metadata().level(),
                plugin: f.plugin,
                message: f.message,
                fields: f.fields,
            });
    }
}

/// Installs the capture once for the whole test binary.
pub fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        let _ = tracing_subscriber::registry().with(Capture).try_init();
    });
}

/// The events logged for the plugin named `plugin`.
pub fn logs_of(plugin: &str) -> Vec<LogEvent> {
    EVENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.plugin == plugin)
        .cloned()
        .collect()
}

/// A plugin serving in go-plugin's test mode: it prints its reattach configs as one JSON line
/// and serves until its stdin closes.
pub struct TestModePlugin {
    child: tokio::process::Child,
    pub reattach: plugin_runtime::ReattachMap,
}

impl TestModePlugin {
    pub async fn start(mut cmd: tokio::process::Command) -> TestModePlugin {
        use tokio::io::AsyncBufReadExt;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a reattach line")
            .unwrap()
            .unwrap();
        TestModePlugin {
            child,
            reattach: serde_json::from_str(&line).unwrap(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Closes its stdin and returns its exit status.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the test-mode plugin exits")
            .unwrap()
    }
}

/// A host reattaching to `reattach` with the KV interface.
pub fn reattach_client(reattach: plugin_runtime::ReattachConfig) -> Client {
    Client::new(
        ClientConfig::new(handshake())
            .reattach(reattach)
            .plugins(PluginSet::new().with("kv", KvPlugin::host())),
    )
    .expect("valid reattach config")
}

/// The error of dispensing `kv` from a client that cannot dispense it.
pub async fn dispense_error(client: &Client) -> plugin_runtime::Error {
    match client.dispense::<dyn Kv>("kv").await {
        Ok(_) => panic!("dispensing from {} succeeded", client.name()),
        Err(e) => e,
    }
}

/// Asks the plugin to exit in the middle of the call; returns the caller's error.
pub async fn put_exit(kv: &Arc<dyn Kv>) -> plugin_runtime::Status {
    kv.put(PutRequest {
        key: "exit".into(),
        value: vec![],
    })
    .await
    .expect_err("the plugin dies during the call")
}

/// The five levels, by the key that makes a fixture log at that level.
pub const LEVELS: [(&str, Level); 5] = [
    ("log-trace", Level::TRACE),
    ("log-debug", Level::DEBUG),
    ("log-info", Level::INFO),
    ("log-warn", Level::WARN),
    ("log-error", Level::ERROR),
];

/// Makes the plugin log `prefix <key>` at each level and checks that the host emitted each one
/// at that level with the fixture's fields (`answer=42`, `source=<source>`).
pub async fn assert_logs_at_their_levels(
    kv: &Arc<dyn Kv>,
    client: &Client,
    prefix: &str,
    source: &str,
) {
    for (key, _) in LEVELS {
        put(kv, key, format!("{prefix} {key}").as_bytes()).await;
    }
    client.kill().await;
    let events = logs_of(client.name());
    for (key, level) in LEVELS {
        let message = format!("{prefix} {key}");
        let event = events
            .iter()
            .find(|e| e.message == message)
            .unwrap_or_else(|| panic!("no event {message:?} in {events:#?}"));
        assert_eq!(event.level, level, "{event:?}");
        assert!(event.fields.contains("answer=42"), "{event:?}");
        assert!(
            event.fields.contains(&format!("source={source}")),
            "{event:?}"
        );
    }
}

/// A host's sink for the broker fixture's `Tasks::run`: doubles what it is told.
pub struct Doubler;

#[plugin_runtime::async_trait]
impl plugin_tests::brokered::Progress for Doubler {
    async fn report(&self, n: u32) -> Result<u32, plugin_tests::interfaces::JobError> {
        Ok(n * 2)
    }
}
