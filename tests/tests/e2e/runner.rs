//! Runners (go-plugin's `RunnerFunc`, `ReattachFunc`, `AddrTranslator`): plugins started by the
//! host's own code in a way the default runner would not, over real processes and sockets.
//!
//! [`ShellRunner`] starts the plugin through `sh -c exec`, working in its socket directory and
//! told to put its sockets in `/proc/self/cwd`: like a plugin in a container, it announces
//! addresses that mean something else to the host (`/proc/self/cwd` is the host's own working
//! directory there), so the runner's translation is what makes the host reach it.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use plugin_fixtures::kv::{self, KvPlugin};
use plugin_runtime::{
    AddrTranslator, AttachedRunner, Client, ClientConfig, ConfigError, Error, Network, PluginExit,
    PluginSet, ReattachConfig, Runner, RunnerError, RunnerOutput, SecureConfig, async_trait,
};
use plugin_tests::brokered::{Tally, Tasks, TasksPlugin};

use crate::common::*;

const BROKER_FIXTURE: &str = env!("CARGO_BIN_EXE_broker-fixture");

/// What a runner was asked to do, for the tests to check it was.
#[derive(Default)]
struct Counts {
    to_host: AtomicUsize,
    to_plugin: AtomicUsize,
    kills: AtomicUsize,
}

impl Counts {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// The plugin's own view of its socket directory (its working directory).
const PLUGIN_VIEW: &str = "/proc/self/cwd";

/// Where the plugin is told to put its sockets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sockets {
    /// [`PLUGIN_VIEW`], its working directory (the host's socket directory).
    PluginView,
    /// Where the host said (`PLUGIN_UNIX_SOCKET_DIR` untouched): absolute addresses.
    AsTheHostSaid,
}

/// Runs the prepared command through `sh -c exec` in the host's socket directory.
struct ShellRunner {
    command: std::process::Command,
    dir: PathBuf,
    shell: PathBuf,
    sockets: Sockets,
    diagnosis: String,
    /// Refuse every address but the handshake's.
    refuse_brokered: bool,
    counts: Arc<Counts>,
    child: tokio::sync::Mutex<Option<tokio::process::Child>>,
    pid: u32,
}

impl ShellRunner {
    fn new(command: std::process::Command, dir: &Path, counts: &Arc<Counts>) -> ShellRunner {
        ShellRunner {
            command,
            dir: dir.to_path_buf(),
            shell: "/bin/sh".into(),
            sockets: Sockets::PluginView,
            diagnosis: String::new(),
            refuse_brokered: false,
            counts: counts.clone(),
            child: tokio::sync::Mutex::new(None),
            pid: 0,
        }
    }

    fn boxed(self) -> Result<Box<dyn Runner>, RunnerError> {
        Ok(Box::new(self))
    }
}

impl AddrTranslator for ShellRunner {
    fn plugin_to_host(
        &self,
        network: Network,
        address: &str,
    ) -> Result<(Network, String), RunnerError> {
        let before = self.counts.to_host.fetch_add(1, Ordering::SeqCst);
        if self.refuse_brokered && before > 0 {
            return Err("brokered servers are not reachable from the host".into());
        }
        let Ok(name) = Path::new(address).strip_prefix(PLUGIN_VIEW) else {
            return Err(format!("{address} is not in the plugin's socket directory").into());
        };
        Ok((network, self.dir.join(name).display().to_string()))
    }

    fn host_to_plugin(
        &self,
        network: Network,
        address: &str,
    ) -> Result<(Network, String), RunnerError> {
        self.counts.to_plugin.fetch_add(1, Ordering::SeqCst);
        if self.refuse_brokered {
            return Err("the host's servers are not reachable from the plugin".into());
        }
        let name = Path::new(address).strip_prefix(&self.dir)?;
        let seen = Path::new(PLUGIN_VIEW).join(name);
        Ok((network, seen.display().to_string()))
    }
}

#[async_trait]
impl AttachedRunner for ShellRunner {
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
        let child = self.child.lock().await.take();
        let mut child = child.ok_or("the plugin was not started, or waited for already")?;
        Ok(Some(child.wait().await?))
    }

    async fn kill(&self) -> Result<(), RunnerError> {
        self.counts.kills.fetch_add(1, Ordering::SeqCst);
        kill_group(self.pid);
        Ok(())
    }

    fn id(&self) -> String {
        self.pid.to_string()
    }
}

#[async_trait]
impl Runner for ShellRunner {
    async fn start(&mut self) -> Result<RunnerOutput, RunnerError> {
        let mut sh = tokio::process::Command::new(&self.shell);
        sh.arg("-c")
            .arg(r#"exec "$0" "$@""#)
            .arg(self.command.get_program())
            .args(self.command.get_args())
            .env_clear()
            .envs(self.command.get_envs().filter_map(|(k, v)| Some((k, v?))));
        if self.sockets == Sockets::PluginView {
            sh.env("PLUGIN_UNIX_SOCKET_DIR", PLUGIN_VIEW);
        }
        let mut child = sh
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()?;
        self.pid = child.id().unwrap_or_default();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        *self.child.get_mut() = Some(child);
        Ok(RunnerOutput::new(stdout, stderr))
    }

    async fn diagnose(&self) -> String {
        self.diagnosis.clone()
    }

    fn name(&self) -> String {
        format!("sh running {}", self.command.get_program().display())
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: a plain syscall; a group that is gone already is fine.
        unsafe { libc::killpg(pid, libc::SIGKILL) };
    }
}

/// The KV fixture through a [`ShellRunner`]; the host's socket directory is reported to `dir`.
fn shell_config(
    command: std::process::Command,
    counts: &Arc<Counts>,
    dir: &Arc<std::sync::Mutex<Option<PathBuf>>>,
) -> ClientConfig {
    let (counts, seen) = (counts.clone(), dir.clone());
    config(command).runner(move |command, dir| {
        *seen.lock().unwrap() = Some(dir.to_path_buf());
        ShellRunner::new(command, dir, &counts).boxed()
    })
}

fn cwd_of(pid: u32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap()
}

/// The variable `key` of process `pid`'s environment.
fn env_of(pid: u32, key: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ.split(|b| *b == 0).find_map(|entry| {
        let entry = String::from_utf8_lossy(entry);
        entry.strip_prefix(&format!("{key}=")).map(str::to_string)
    })
}

async fn a_runner_starts_the_plugin_its_own_way_and_translates_its_address(transport: Transport) {
    let counts = Arc::new(Counts::default());
    let seen = Arc::default();
    let client = Client::new(transport.host(shell_config(fixture(""), &counts, &seen))).unwrap();
    let kv = kv(&client).await;
    transport.check(&client).await;
    put(&kv, "k", b"v").await;
    assert_eq!(get(&kv, "k").await, b"v");

    let dir = seen.lock().unwrap().clone().expect("the runner was made");
    let pid: u32 = client.id().expect("started").parse().unwrap();
    assert_eq!(client.pid(), None, "a custom runner's plugin has no pid");
    assert_eq!(cwd_of(pid), dir.canonicalize().unwrap());
    assert_eq!(
        env_of(pid, "PLUGIN_UNIX_SOCKET_DIR").as_deref(),
        Some(PLUGIN_VIEW)
    );
    // The host dials (and hands out for reattach) the address as it sees it.
    let reattach = client.reattach_config().unwrap();
    assert_eq!(reattach.pid, 0, "go-plugin: no pid with a RunnerFunc");
    assert_eq!(Path::new(&reattach.addr.address).parent(), Some(&*dir));
    assert!(Counts::get(&counts.to_host) >= 1);

    client.kill().await;
    assert!(matches!(
        client.exit(),
        Some(PluginExit::Killed { status: Some(_) })
    ));
    assert_eq!(Counts::get(&counts.kills), 1);
    assert!(!pid_alive(pid), "the runner's kill ended the plugin");
    assert!(!dir.exists(), "the host removed the socket directory");
}

on_both_transports!(a_runner_starts_the_plugin_its_own_way_and_translates_its_address);

#[tokio::test]
async fn stdout_and_stderr_reach_the_sync_writers_through_a_runner() {
    let (out, err) = (SharedBuf::default(), SharedBuf::default());
    let counts = Arc::new(Counts::default());
    let client = Client::new(
        shell_config(fixture(""), &counts, &Arc::default())
            .sync_stdout(out.clone())
            .sync_stderr(err.clone()),
    )
    .unwrap();
    let kv = kv(&client).await;
    assert_eq!(client.reattach_config().unwrap().pid, 0);
    put(&kv, "stdout", b"hello\nworld!").await;
    put(&kv, "stderr", b"and some error\n messages!").await;
    // As go-plugin's test: wait for the copy, then compare.
    eventually("the output is copied", || {
        out.bytes().len() >= 12 && err.bytes().len() >= 25
    })
    .await;
    assert_eq!(out.bytes(), b"hello\nworld!");
    assert_eq!(err.bytes(), b"and some error\n messages!");
    client.kill().await;
}

/// A host of the brokered fixture (`tasks`) over gRPC, launched by the runner `make` makes.
fn brokered_client(
    make: impl FnOnce(std::process::Command, &Path) -> Result<Box<dyn Runner>, RunnerError>
    + Send
    + 'static,
) -> Client {
    Client::new(
        Transport::Grpc
            .config(
                plugin_tests::brokered::handshake(),
                std::process::Command::new(BROKER_FIXTURE),
            )
            .plugins(PluginSet::new().with("tasks", TasksPlugin::host()))
            .runner(make),
    )
    .unwrap()
}

#[tokio::test]
async fn brokered_addresses_are_translated_both_ways() {
    let counts = Arc::new(Counts::default());
    let (runner_counts, seen) = (counts.clone(), Arc::new(std::sync::Mutex::new(None)));
    let dir_seen = seen.clone();
    let client = brokered_client(move |command, dir| {
        *dir_seen.lock().unwrap() = Some(dir.to_path_buf());
        ShellRunner::new(command, dir, &runner_counts).boxed()
    });
    let tasks = client.dispense::<dyn Tasks>("tasks").await.unwrap();
    Transport::Grpc.check(&client).await;
    let after_handshake = Counts::get(&counts.to_host);

    // The host serves the sink: its socket's address goes to the plugin as the plugin sees it.
    assert_eq!(tasks.run(vec![1, 2, 3], Arc::new(Doubler)).await, Ok(12));
    assert!(Counts::get(&counts.to_plugin) >= 1, "host_to_plugin used");
    // The plugin serves the tally: the host dials its address translated.
    let tally: Arc<dyn Tally> = tasks.tally(40).await.unwrap();
    assert_eq!(tally.add(2).await, Ok(42));
    assert!(
        Counts::get(&counts.to_host) > after_handshake,
        "plugin_to_host used"
    );

    drop(tally);
    client.kill().await;
    let dir = seen.lock().unwrap().clone().unwrap();
    assert!(
        !dir.exists(),
        "the socket directory is gone with its sockets"
    );
}

#[tokio::test]
async fn brokered_addresses_the_runner_cannot_translate_fail_those_calls() {
    let counts = Arc::new(Counts::default());
    let runner_counts = counts.clone();
    let client = brokered_client(move |command, dir| {
        let mut runner = ShellRunner::new(command, dir, &runner_counts);
        runner.refuse_brokered = true;
        runner.boxed()
    });
    let tasks = client.dispense::<dyn Tasks>("tasks").await.unwrap();
    // The host cannot announce its sink to the plugin.
    let err = tasks.run(vec![1], Arc::new(Doubler)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("host_to_plugin"), "{text}");
    assert!(
        text.contains("make the runner's AddrTranslator cover"),
        "{text}"
    );
    // The host cannot dial what the plugin announces.
    let err = match tasks.tally(1).await {
        Ok(_) => panic!("the tally was dialled untranslated"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("plugin_to_host"), "{err}");
    // The plugin itself goes on.
    client.ping().await.unwrap();
    client.kill().await;
}

#[tokio::test]
async fn a_go_plugin_runs_through_a_custom_runner() {
    let go = require_go!();
    let counts = Arc::new(Counts::default());
    let seen = Arc::default();
    let client = Client::new(shell_config(
        std::process::Command::new(go.join("go-kv-plugin")),
        &counts,
        &seen,
    ))
    .unwrap();
    let kv = kv(&client).await;
    put(&kv, "lang", b"go").await;
    assert_eq!(get(&kv, "lang").await, b"go");
    assert_eq!(client.protocol(), Some(plugin_runtime::Protocol::Grpc));
    let pid: u32 = client.id().unwrap().parse().unwrap();
    // go-plugin's server put its socket where it was told, and the host translated it.
    assert!(Counts::get(&counts.to_host) >= 1);
    client.kill().await;
    assert!(!pid_alive(pid));
    let dir = seen.lock().unwrap().clone().unwrap();
    assert!(!dir.exists());
}

/// The group of this process, as its gid and as its name.
fn own_group() -> (String, String) {
    // SAFETY: getegid cannot fail; getgrgid's result is read before any other call.
    unsafe {
        let gid = libc::getegid();
        let entry = libc::getgrgid(gid);
        assert!(!entry.is_null(), "gid {gid} has a group entry");
        let name = std::ffi::CStr::from_ptr((*entry).gr_name)
            .to_string_lossy()
            .into_owned();
        (gid.to_string(), name)
    }
}

#[tokio::test]
async fn the_runners_socket_dir_is_0770_with_its_group_and_passed_to_the_plugin() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let base = tempfile::tempdir().unwrap();
    let base_path = base.path().canonicalize().unwrap();
    let (gid, name) = own_group();
    for group in [gid.clone(), name] {
        let counts = Arc::new(Counts::default());
        let checked = Arc::new(AtomicUsize::new(0));
        let (expected_base, expected_group, gid) = (base_path.clone(), group.clone(), gid.clone());
        let runner_checked = checked.clone();
        let client = Client::new(
            config(fixture(""))
                .unix_socket_dir(&base_path)
                .unix_socket_group(&group)
                .runner(move |command, dir| {
                    // Checked here, as go-plugin's TestSetGroup does, before anything runs.
                    assert_eq!(dir.parent(), Some(&*expected_base));
                    let meta = std::fs::metadata(dir).unwrap();
                    assert_eq!(meta.permissions().mode() & 0o777, 0o770);
                    assert_eq!(meta.gid().to_string(), gid);
                    let envs: Vec<(String, Option<String>)> = command
                        .get_envs()
                        .map(|(k, v)| {
                            let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                            (text(k), v.map(text))
                        })
                        .collect();
                    let has = |key: &str, value: &str| {
                        envs.iter()
                            .any(|(k, v)| k == key && v.as_deref() == Some(value))
                    };
                    assert!(has("PLUGIN_UNIX_SOCKET_DIR", &dir.display().to_string()));
                    assert!(has("PLUGIN_UNIX_SOCKET_GROUP", &expected_group));
                    runner_checked.fetch_add(1, Ordering::SeqCst);
                    ShellRunner::new(command, dir, &counts).boxed()
                }),
        )
        .unwrap();
        let kv = kv(&client).await;
        put(&kv, "k", b"v").await;
        assert_eq!(checked.load(Ordering::SeqCst), 1, "group {group}");
        client.kill().await;
    }
    let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "socket directories left: {left:?}");
}

#[tokio::test]
async fn without_unix_socket_dir_a_runner_gets_a_private_dir_in_the_temp_dir() {
    use std::os::unix::fs::PermissionsExt;
    let counts = Arc::new(Counts::default());
    let seen = Arc::default();
    let client = Client::new(shell_config(fixture(""), &counts, &seen)).unwrap();
    client.start().await.unwrap();
    let dir = seen.lock().unwrap().clone().unwrap();
    assert_eq!(dir.parent(), Some(&*std::env::temp_dir()));
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plugin-dir")
    );
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    client.kill().await;
    assert!(!dir.exists());
}

#[tokio::test]
async fn without_a_command_the_runner_decides_what_runs_with_the_whole_environment() {
    let counts = Arc::new(Counts::default());
    let runner_counts = counts.clone();
    let path = std::env::var("PATH").unwrap();
    let client = Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .runner(move |command, dir| {
                assert!(
                    command.get_program().is_empty(),
                    "go-plugin's empty command"
                );
                let env = |key: &str| {
                    command
                        .get_envs()
                        .find(|(k, _)| k.to_str() == Some(key))
                        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
                };
                // The host's own environment is spelled out, as go-plugin's `cmd.Env`.
                assert_eq!(env("PATH"), Some(path));
                assert_eq!(env("BASIC_PLUGIN").as_deref(), Some("hello"));
                assert!(env("PLUGIN_PROTOCOL_VERSIONS").is_some());
                let mut plugin = std::process::Command::new(FIXTURE);
                plugin.env_clear();
                for (k, v) in command.get_envs() {
                    if let Some(v) = v {
                        plugin.env(k, v);
                    }
                }
                ShellRunner::new(plugin, dir, &runner_counts).boxed()
            }),
    )
    .unwrap();
    let kv = kv(&client).await;
    put(&kv, "k", b"v").await;
    assert_eq!(get(&kv, "k").await, b"v");
    client.kill().await;
    assert_eq!(Counts::get(&counts.kills), 1);
}

#[tokio::test]
async fn a_client_dropped_without_kill_kills_through_its_runner() {
    let counts = Arc::new(Counts::default());
    let seen = Arc::default();
    let client = Client::new(shell_config(fixture(""), &counts, &seen)).unwrap();
    client.start().await.unwrap();
    let pid: u32 = client.id().unwrap().parse().unwrap();
    drop(client);
    assert_eq!(
        Counts::get(&counts.kills),
        1,
        "Drop called the runner's kill"
    );
    eventually("the plugin is gone", || !pid_alive(pid)).await;
    let dir = seen.lock().unwrap().clone().unwrap();
    assert!(!dir.exists(), "Drop removed the socket directory");
}

#[tokio::test]
async fn a_cancelled_start_kills_through_the_runner() {
    let counts = Arc::new(Counts::default());
    let seen = Arc::default();
    let client = Client::new(shell_config(fixture("silent"), &counts, &seen)).unwrap();
    let start = tokio::time::timeout(Duration::from_millis(300), client.start()).await;
    assert!(start.is_err(), "a silent plugin never finishes starting");
    assert_eq!(
        Counts::get(&counts.kills),
        1,
        "the cancelled start killed it"
    );
    let pid: u32 = client.id().unwrap().parse().unwrap();
    eventually("the plugin is gone", || !pid_alive(pid)).await;
    let dir = seen.lock().unwrap().clone().unwrap();
    assert!(!dir.exists());
    let err = client.start().await.unwrap_err();
    assert!(err.to_string().contains("the start was cancelled"), "{err}");
}

// ---- What goes wrong --------------------------------------------------------------------------

#[test]
fn a_runner_and_a_reattach_config_are_refused_together() {
    let reattach = ReattachConfig {
        protocol: plugin_runtime::Protocol::Grpc,
        protocol_version: 1,
        addr: plugin_runtime::ReattachAddr {
            network: Network::Unix,
            address: "/nonexistent/plugin.sock".into(),
        },
        pid: 0,
        test: false,
    };
    let counts = Arc::new(Counts::default());
    let err = Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .reattach(reattach.clone())
            .runner(move |command, dir| ShellRunner::new(command, dir, &counts).boxed()),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::RunnerWithReattach)),
        "{err:?}"
    );
    assert!(err.to_string().contains("reattach_with"), "{err}");

    // go-plugin's TestClient_cmdAndReattach, with an attach function.
    let err =
        Client::new(config(fixture("")).reattach_with(reattach, || Err("never called".into())))
            .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::CommandOrReattach)),
        "{err:?}"
    );
    assert!(err.to_string().contains("ClientConfig::runner"), "{err}");
}

#[test]
fn secure_config_needs_a_command_to_verify_with_a_runner() {
    let counts = Arc::new(Counts::default());
    let err = Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .secure(SecureConfig::sha256(vec![0; 32]))
            .runner(move |command, dir| ShellRunner::new(command, dir, &counts).boxed()),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::SecureConfigWithoutCommand)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("set ClientConfig::command"),
        "{err}"
    );
}

/// The socket directories under `base` (none may be left after a failed start).
fn dirs_in(base: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[tokio::test]
async fn a_failing_runner_function_starts_nothing_and_leaves_no_directory() {
    let base = tempfile::tempdir().unwrap();
    let client = Client::new(
        config(fixture(""))
            .unix_socket_dir(base.path())
            .runner(|_, _| Err("no container runtime on this machine".into())),
    )
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(matches!(err, Error::RunnerSetup { .. }), "{err:?}");
    let text = plugin_runtime_chain(&err);
    assert!(text.contains("ClientConfig::runner"), "{text}");
    assert!(
        text.contains("no container runtime on this machine"),
        "{text}"
    );
    assert_eq!(dirs_in(base.path()), Vec::<PathBuf>::new());
}

/// An error and its sources, as `anyhow` prints them.
fn plugin_runtime_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[tokio::test]
async fn a_runner_that_cannot_start_the_plugin_names_itself_and_why() {
    let base = tempfile::tempdir().unwrap();
    let counts = Arc::new(Counts::default());
    let client = Client::new(config(fixture("")).unix_socket_dir(base.path()).runner(
        move |command, dir| {
            let mut runner = ShellRunner::new(command, dir, &counts);
            runner.shell = "/nonexistent/sh".into();
            runner.boxed()
        },
    ))
    .unwrap();
    let err = client.start().await.unwrap_err();
    let Error::RunnerStart { runner, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(runner.starts_with("sh running "), "{runner}");
    let text = plugin_runtime_chain(&err);
    assert!(
        text.contains("failed to start plugin fixture-plugin"),
        "{text}"
    );
    assert!(text.contains("No such file or directory"), "{text}");
    assert_eq!(dirs_in(base.path()), Vec::<PathBuf>::new());
}

/// Starts a real process, then waits for a readiness that never comes (a container that never
/// becomes healthy): the host's start timeout ends the wait and the host kills it.
struct NeverReady {
    pid: Arc<std::sync::Mutex<u32>>,
    _child: Option<tokio::process::Child>,
    counts: Arc<Counts>,
}

impl AddrTranslator for NeverReady {}

#[async_trait]
impl AttachedRunner for NeverReady {
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
        Err("never started".into())
    }

    async fn kill(&self) -> Result<(), RunnerError> {
        self.counts.kills.fetch_add(1, Ordering::SeqCst);
        kill_group(*self.pid.lock().unwrap());
        Ok(())
    }

    fn id(&self) -> String {
        self.pid.lock().unwrap().to_string()
    }
}

#[async_trait]
impl Runner for NeverReady {
    async fn start(&mut self) -> Result<RunnerOutput, RunnerError> {
        let child = tokio::process::Command::from(fixture("silent"))
            .process_group(0)
            .spawn()?;
        *self.pid.lock().unwrap() = child.id().unwrap_or_default();
        self._child = Some(child);
        std::future::pending().await
    }

    fn name(&self) -> String {
        "never-ready".into()
    }
}

#[tokio::test]
async fn a_runner_that_does_not_start_in_time_is_killed() {
    let counts = Arc::new(Counts::default());
    let pid = Arc::new(std::sync::Mutex::new(0));
    let (runner_counts, runner_pid) = (counts.clone(), pid.clone());
    let client = Client::new(
        config(fixture(""))
            .start_timeout(Duration::from_millis(500))
            .runner(move |_, _| {
                Ok(Box::new(NeverReady {
                    pid: runner_pid,
                    _child: None,
                    counts: runner_counts,
                }))
            }),
    )
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(matches!(err, Error::RunnerStart { .. }), "{err:?}");
    let text = plugin_runtime_chain(&err);
    assert!(text.contains("raise ClientConfig::start_timeout"), "{text}");
    assert!(
        text.contains("did not start the plugin within 500ms"),
        "{text}"
    );
    assert_eq!(Counts::get(&counts.kills), 1);
    let pid = *pid.lock().unwrap();
    assert!(pid > 0);
    eventually("the started process is killed", || !pid_alive(pid)).await;
}

#[tokio::test]
async fn an_address_the_runner_cannot_translate_fails_the_start_and_kills_the_plugin() {
    let base = tempfile::tempdir().unwrap();
    let counts = Arc::new(Counts::default());
    let runner_counts = counts.clone();
    let client = Client::new(config(fixture("")).unix_socket_dir(base.path()).runner(
        move |command, dir| {
            let mut runner = ShellRunner::new(command, dir, &runner_counts);
            runner.sockets = Sockets::AsTheHostSaid;
            runner.boxed()
        },
    ))
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(matches!(err, Error::AddrTranslation { .. }), "{err:?}");
    let text = plugin_runtime_chain(&err);
    assert!(text.contains("AddrTranslator::plugin_to_host"), "{text}");
    assert!(
        text.contains("is not in the plugin's socket directory"),
        "{text}"
    );
    let pid: u32 = client.id().unwrap().parse().unwrap();
    assert!(!pid_alive(pid), "the plugin was killed");
    assert_eq!(Counts::get(&counts.kills), 1);
    assert_eq!(dirs_in(base.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn the_runners_diagnosis_follows_an_unrecognized_handshake() {
    let counts = Arc::new(Counts::default());
    let client = Client::new(config(fixture("junk")).runner(move |command, dir| {
        let mut runner = ShellRunner::new(command, dir, &counts);
        runner.diagnosis = "the image may be built for another architecture".into();
        runner.boxed()
    }))
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(matches!(err, Error::Handshake { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("hello from a misbehaving plugin"), "{text}");
    assert!(
        text.contains("(runner sh running ")
            && text.contains(": the image may be built for another architecture)"),
        "{text}"
    );
    let pid: u32 = client.id().unwrap().parse().unwrap();
    assert!(!pid_alive(pid));
}

// ---- Reattaching through an AttachedRunner -----------------------------------------------------

/// A plugin another host launched, by its pid, polled.
struct ByPid {
    pid: u32,
    counts: Arc<Counts>,
}

impl AddrTranslator for ByPid {}

#[async_trait]
impl AttachedRunner for ByPid {
    async fn wait(&self) -> Result<Option<ExitStatus>, RunnerError> {
        while pid_alive(self.pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(None)
    }

    async fn kill(&self) -> Result<(), RunnerError> {
        self.counts.kills.fetch_add(1, Ordering::SeqCst);
        // SAFETY: a plain syscall on a pid this test's first host still owns.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        Ok(())
    }

    fn id(&self) -> String {
        format!("pid:{}", self.pid)
    }
}

/// A first host running the fixture, and what a second host needs to attach to it by pid
/// through its own runner (go-plugin's test: pid moved from the config into the function).
async fn first_host() -> (Client, ReattachConfig, u32) {
    let first = Client::new(config(fixture("")).auto_mtls(false)).unwrap();
    first.start().await.unwrap();
    let mut reattach = first.reattach_config().unwrap();
    let pid = std::mem::take(&mut reattach.pid);
    (first, reattach, pid)
}

fn attached(reattach: ReattachConfig, pid: u32, counts: &Arc<Counts>) -> Client {
    let counts = counts.clone();
    Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .reattach_with(reattach, move || Ok(Box::new(ByPid { pid, counts }))),
    )
    .unwrap()
}

#[tokio::test]
async fn a_reattach_function_attaches_and_the_plugin_is_shut_down_gracefully() {
    let (first, reattach, pid) = first_host().await;
    let counts = Arc::new(Counts::default());
    let second = attached(reattach.clone(), pid, &counts);
    let kv2 = kv(&second).await;
    put(&kv2, "k", b"v").await;
    assert_eq!(get(&kv2, "k").await, b"v");
    assert_eq!(second.id(), Some(format!("pid:{pid}")));
    assert_eq!(second.pid(), None);
    assert_eq!(second.reattach_config(), Some(reattach));

    second.kill().await;
    eventually("the plugin shut down", || first.exited()).await;
    assert_eq!(Counts::get(&counts.kills), 0, "graceful: no kill needed");
    first.kill().await;
}

#[tokio::test]
async fn a_reattached_plugin_that_does_not_shut_down_is_killed_by_its_runner() {
    let (first, reattach, pid) = first_host().await;
    let counts = Arc::new(Counts::default());
    let counts2 = counts.clone();
    let second = Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .kill_grace(Duration::from_millis(300))
            .reattach_with(reattach, move || {
                Ok(Box::new(ByPid {
                    pid,
                    counts: counts2,
                }))
            }),
    )
    .unwrap();
    second.start().await.unwrap();
    // Frozen: it cannot answer the shutdown request, only a SIGKILL ends it.
    // SAFETY: a plain syscall on the fixture this test launched.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    second.kill().await;
    assert_eq!(
        Counts::get(&counts.kills),
        1,
        "not graceful: the runner kills"
    );
    eventually("the plugin is gone", || !pid_alive(pid)).await;
    first.kill().await;
}

#[tokio::test]
async fn a_reattached_plugin_that_stops_is_reported_by_its_runner() {
    let (first, reattach, pid) = first_host().await;
    let counts = Arc::new(Counts::default());
    let second = attached(reattach, pid, &counts);
    let kv2 = kv(&second).await;
    first.kill().await;
    eventually("the second host notices", || second.exited()).await;
    let id = format!("pid:{pid}");
    assert_eq!(second.exit(), Some(PluginExit::Stopped { id: id.clone() }));
    get_fails_saying(
        &kv2,
        "k",
        &format!("has stopped (its runner reports {id} gone)"),
    )
    .await;
    second.kill().await;
}

#[tokio::test]
async fn a_failing_reattach_function_says_so() {
    let (first, reattach, _) = first_host().await;
    let client = Client::new(
        ClientConfig::new(kv::handshake())
            .plugins(PluginSet::new().with("kv", KvPlugin::host()))
            .reattach_with(reattach, || Err("container kv-1 is not running".into())),
    )
    .unwrap();
    let err = client.start().await.unwrap_err();
    assert!(matches!(err, Error::Reattach { .. }), "{err:?}");
    let text = plugin_runtime_chain(&err);
    assert!(text.contains("ClientConfig::reattach_with"), "{text}");
    assert!(text.contains("container kv-1 is not running"), "{text}");
    first.kill().await;
}
