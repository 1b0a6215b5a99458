//! The broker between Rust hosts and Rust plugins: a plugin calling back into its host, a host
//! dialling what its plugin serves, and what is left behind (nothing). First by hand (`Worker`,
//! ids in the messages), then typed (`Tasks`: `Arc<dyn Progress>` arguments and
//! `Arc<dyn Tally>` results, brokered by the code `#[plugin_interface]` generates). Every
//! scenario on both transports.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use plugin_runtime::{BrokerError, Client, PluginSet};
use plugin_tests::brokered::{
    Progress, Reporter, ReporterPlugin, Tally, Tasks, TasksPlugin, Worker, WorkerPlugin, handshake,
};
use plugin_tests::interfaces::JobError;

use crate::common::*;

const BROKER_FIXTURE: &str = env!("CARGO_BIN_EXE_broker-fixture");
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The host's `Reporter`: doubles, refuses 13, panics on 666, and on 999 kills the plugin
/// (whose pid it is given) in the middle of serving the callback.
struct HostReporter {
    plugin_pid: u32,
}

#[plugin_runtime::async_trait]
impl Reporter for HostReporter {
    async fn report(&self, n: u32) -> Result<u32, JobError> {
        match n {
            13 => Err(JobError::Refused("13 is unlucky".into())),
            666 => panic!("the host's reporter panics on purpose"),
            999 => {
                // SAFETY: kill(2) on the plugin this test started.
                unsafe { libc::kill(self.plugin_pid as libc::pid_t, libc::SIGKILL) };
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(0)
            }
            n => Ok(n * 2),
        }
    }
}

on_both_transports!(
    a_plugin_calls_back_64_times_at_once_with_and_without_automtls,
    a_failing_or_panicking_callback_fails_the_plugins_call_and_nobody_crashes,
    a_plugin_keeps_a_callback_after_the_call_that_passed_it_returned,
    dialling_an_id_nobody_serves_fails_clearly_within_the_5_s_wait,
    the_host_dials_what_the_plugin_serves_until_it_is_withdrawn,
    the_plugin_dying_while_the_host_serves_its_callback_ends_the_call_and_leaves_nothing,
    a_plugin_calls_a_passed_callback_64_times_at_once_with_and_without_automtls,
    a_failing_or_panicking_passed_callback_is_the_plugins_error_and_nobody_crashes,
    a_plugin_keeps_a_passed_callback_until_it_drops_it_with_and_without_automtls,
    a_kept_callback_ends_with_the_plugin,
    a_plugin_returns_interfaces_the_host_calls_with_and_without_automtls,
    a_callback_passed_back_and_forth_still_reaches_the_host,
    a_callback_nobody_dials_is_served_for_10_s_only,
    a_crashed_plugins_brokered_sockets_are_removed_by_its_host,
);

/// A client of the broker fixture on `transport` whose sockets (the plugin's and every
/// brokered one, on both sides) go to `dir`.
fn worker_client(dir: &Path, automtls: bool, transport: Transport) -> Client {
    Client::new(
        transport
            .config(handshake(), std::process::Command::new(BROKER_FIXTURE))
            .plugins(PluginSet::new().with("worker", WorkerPlugin::host()))
            .unix_socket_dir(dir)
            .auto_mtls(automtls),
    )
    .expect("valid config")
}

/// The client's worker, once the client is checked to be on `transport`.
async fn worker(client: &Client, transport: Transport) -> Arc<dyn Worker> {
    let worker = client
        .dispense::<dyn Worker>("worker")
        .await
        .expect("dispense the worker");
    transport.check(client).await;
    worker
}

/// Serves the host's reporter on the client's broker; returns the id and the server.
async fn serve_reporter(client: &Client) -> (u32, plugin_runtime::BrokerServer) {
    let broker = client.broker().await.expect("the client's broker");
    let id = broker.next_id();
    let reporter = HostReporter {
        plugin_pid: client.pid().expect("started"),
    };
    let server = broker
        .accept_and_serve(id, ReporterPlugin::new(reporter))
        .await
        .expect("serve the reporter");
    (id, server)
}

/// Everything under `dir`: the socket directory must be empty once the client is gone.
fn leftovers(dir: &Path) -> Vec<String> {
    walk(dir)
}

fn assert_nothing_left(dir: &Path, automtls: bool) {
    assert_eq!(leftovers(dir), Vec::<String>::new(), "AutoMTLS {automtls}");
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .flat_map(|e| {
                    let path = e.path();
                    let mut found = vec![path.display().to_string()];
                    if path.is_dir() {
                        found.extend(walk(&path));
                    }
                    found
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn a_plugin_calls_back_64_times_at_once_with_and_without_automtls(
    transport: Transport,
) {
    for automtls in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let client = worker_client(dir.path(), automtls, transport);
        let worker = worker(&client, transport).await;
        let (id, _server) = serve_reporter(&client).await;
        let numbers: Vec<u32> = (100..164).collect();
        let expected: u64 = numbers.iter().map(|n| u64::from(*n) * 2).sum();
        let sum = worker.work(id, numbers).await.expect("64 callbacks");
        assert_eq!(sum, expected, "AutoMTLS {automtls}");
        client.kill().await;
        assert_nothing_left(dir.path(), automtls);
    }
}

async fn a_failing_or_panicking_callback_fails_the_plugins_call_and_nobody_crashes(
    transport: Transport,
) {
    let dir = tempfile::tempdir().unwrap();
    let client = worker_client(dir.path(), true, transport);
    let worker = worker(&client, transport).await;
    // go-plugin sends an id's address once: each dial gets a freshly served id.
    let (id, _refusing) = serve_reporter(&client).await;
    let refused = worker.work(id, vec![1, 13]).await.unwrap_err();
    assert_eq!(refused, JobError::Refused("13 is unlucky".into()));
    let (id, _panicking) = serve_reporter(&client).await;
    let panicked = worker.work(id, vec![666]).await.unwrap_err();
    match &panicked {
        JobError::Call(why) => assert!(
            why.contains("panicked") && why.contains("the host's reporter panics on purpose"),
            "{why}"
        ),
        other => panic!("expected the callback's failure, got {other:?}"),
    }
    // Both sides still serve.
    let (id, _server) = serve_reporter(&client).await;
    assert_eq!(worker.work(id, vec![1, 2, 3]).await, Ok(12));
    client.kill().await;
}

async fn a_plugin_keeps_a_callback_after_the_call_that_passed_it_returned(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let client = worker_client(dir.path(), true, transport);
    let worker = worker(&client, transport).await;
    let (id, _server) = serve_reporter(&client).await;
    worker.keep(id).await.expect("keep the reporter");
    for n in [1, 2, 3] {
        assert_eq!(worker.poke(n).await, Ok(n * 2));
    }
    client.kill().await;
}

async fn dialling_an_id_nobody_serves_fails_clearly_within_the_5_s_wait(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let client = worker_client(dir.path(), true, transport);
    let worker = worker(&client, transport).await;
    let started = Instant::now();
    let err = worker.work(4242, vec![1]).await.unwrap_err();
    let waited = started.elapsed();
    match &err {
        JobError::Refused(why) => assert!(
            why.contains("timeout waiting for connection info for broker id 4242"),
            "{why}"
        ),
        other => panic!("expected the broker's timeout, got {other:?}"),
    }
    assert!(waited < Duration::from_secs(10), "no hang: {waited:?}");
    // On the host side too.
    let broker = client.broker().await.unwrap();
    let err = broker.dial(4242).await.unwrap_err();
    assert!(
        matches!(err, BrokerError::Timeout { id: 4242, .. }),
        "{err:?}"
    );
    client.kill().await;
}

async fn the_host_dials_what_the_plugin_serves_until_it_is_withdrawn(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let client = worker_client(dir.path(), true, transport);
    let worker = worker(&client, transport).await;
    let id = worker.offer().await.expect("the plugin serves a reporter");
    let broker = client.broker().await.unwrap();
    let reporter = broker
        .dispense::<dyn Reporter>(id, ReporterPlugin::host())
        .await
        .expect("dial the plugin's reporter");
    assert_eq!(reporter.report(1).await, Ok(1001));
    worker.withdraw().await.expect("withdraw");
    let after = reporter.report(2).await.unwrap_err();
    assert!(matches!(after, JobError::Call(_)), "{after:?}");
    client.kill().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

async fn the_plugin_dying_while_the_host_serves_its_callback_ends_the_call_and_leaves_nothing(
    transport: Transport,
) {
    let dir = tempfile::tempdir().unwrap();
    let client = worker_client(dir.path(), true, transport);
    let worker = worker(&client, transport).await;
    let pid = client.pid().unwrap();
    let broker = client.broker().await.unwrap();
    let (id, server) = serve_reporter(&client).await;
    let err = tokio::time::timeout(HANG_GUARD, worker.work(id, vec![999]))
        .await
        .expect("no hang")
        .unwrap_err();
    match &err {
        JobError::Call(why) => assert!(why.contains("killed by signal 9"), "{why}"),
        other => panic!("expected the plugin's death, got {other:?}"),
    }
    eventually("the killed plugin is reaped", || !pid_alive(pid)).await;
    // The broker closed with the plugin: the host's server stops, its socket goes.
    eventually("the broker is closed", || broker.is_closed()).await;
    server.stop().await;
    client.kill().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

// Typed callbacks: `Arc<dyn Progress>` arguments and `Arc<dyn Tally>` results.

/// The host's `Progress`: doubles, refuses 13, panics on 666; counts the reports it answered.
#[derive(Default)]
struct HostProgress {
    reports: AtomicUsize,
}

#[plugin_runtime::async_trait]
impl Progress for HostProgress {
    async fn report(&self, n: u32) -> Result<u32, JobError> {
        match n {
            13 => Err(JobError::Refused("13 is unlucky".into())),
            666 => panic!("the host's progress sink panics on purpose"),
            n => {
                self.reports.fetch_add(1, Ordering::SeqCst);
                Ok(n * 2)
            }
        }
    }
}

/// A client of the broker fixture's "tasks" on `transport`, its sockets in `dir`.
async fn tasks_client(
    dir: &Path,
    automtls: bool,
    transport: Transport,
) -> (Client, Arc<dyn Tasks>) {
    tasks_client_multiplexed(dir, automtls, false, transport).await
}

/// As [`tasks_client`], with brokered connections multiplexed on the main one or not (which
/// only gRPC does: a host asking for both gets gRPC).
async fn tasks_client_multiplexed(
    dir: &Path,
    automtls: bool,
    multiplex: bool,
    transport: Transport,
) -> (Client, Arc<dyn Tasks>) {
    let client = Client::new(
        transport
            .config(handshake(), std::process::Command::new(BROKER_FIXTURE))
            .plugins(PluginSet::new().with("tasks", TasksPlugin::host()))
            .unix_socket_dir(dir)
            .auto_mtls(automtls)
            .grpc_broker_multiplex(multiplex),
    )
    .expect("valid config");
    let tasks = client
        .dispense::<dyn Tasks>("tasks")
        .await
        .expect("dispense the tasks");
    let on = if multiplex {
        Transport::Grpc
    } else {
        transport
    };
    on.check(&client).await;
    (client, tasks)
}

/// The sockets under `dir` (the plugin's own, and any brokered one not yet dialled).
fn sockets(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::FileTypeExt as _;
    let mut found: Vec<String> = walk(dir)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()))
        .collect();
    found.sort();
    found
}

/// The brokered server of a callback holds the host's implementation: once it has ended, the
/// test's `Arc` is the only one left.
async fn served_until_dropped(sink: &Arc<HostProgress>, what: &str) {
    eventually(what, || Arc::strong_count(sink) == 1).await;
}

pub(crate) async fn a_plugin_calls_a_passed_callback_64_times_at_once_with_and_without_automtls(
    transport: Transport,
) {
    for (automtls, multiplex) in [(true, false), (false, false), (true, true), (false, true)] {
        let dir = tempfile::tempdir().unwrap();
        let (client, tasks) =
            tasks_client_multiplexed(dir.path(), automtls, multiplex, transport).await;
        let pid = client.pid().expect("started");
        let before = sockets(dir.path());
        let sink = Arc::new(HostProgress::default());
        let numbers: Vec<u32> = (100..164).collect();
        let expected: u64 = numbers.iter().map(|n| u64::from(*n) * 2).sum();
        let sum = tasks
            .run(numbers, sink.clone())
            .await
            .expect("64 callbacks");
        assert_eq!(sum, expected, "AutoMTLS {automtls}");
        assert_eq!(sink.reports.load(Ordering::SeqCst), 64);
        // The plugin dropped the sink when `run` returned: the host's server for it ends, and
        // its socket went as soon as the plugin connected.
        served_until_dropped(&sink, "the sink's server ends after the call").await;
        assert_eq!(sockets(dir.path()), before, "AutoMTLS {automtls}");
        client.kill().await;
        assert!(!pid_alive(pid), "AutoMTLS {automtls}");
        assert_nothing_left(dir.path(), automtls);
    }
}

async fn a_failing_or_panicking_passed_callback_is_the_plugins_error_and_nobody_crashes(
    transport: Transport,
) {
    let dir = tempfile::tempdir().unwrap();
    let (client, tasks) = tasks_client(dir.path(), true, transport).await;
    let sink = Arc::new(HostProgress::default());
    let refused = tasks.run(vec![1, 13], sink.clone()).await.unwrap_err();
    assert_eq!(refused, JobError::Refused("13 is unlucky".into()));
    let panicked = tasks.run(vec![666], sink.clone()).await.unwrap_err();
    match &panicked {
        JobError::Call(why) => assert!(
            why.contains("panicked") && why.contains("the host's progress sink panics on purpose"),
            "{why}"
        ),
        other => panic!("expected the callback's failure, got {other:?}"),
    }
    // Both sides still serve, the same sink included.
    assert_eq!(tasks.run(vec![1, 2, 3], sink.clone()).await, Ok(12));
    served_until_dropped(&sink, "every server of the sink ends").await;
    client.kill().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

async fn a_plugin_keeps_a_passed_callback_until_it_drops_it_with_and_without_automtls(
    transport: Transport,
) {
    for automtls in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (client, tasks) = tasks_client(dir.path(), automtls, transport).await;
        let before = sockets(dir.path());
        let sink = Arc::new(HostProgress::default());
        tasks.subscribe(sink.clone()).await.expect("subscribe");
        // Called after the call that passed it returned, many times at once.
        let emits = (100..164).map(|n| {
            let tasks = tasks.clone();
            async move { tasks.emit(n).await }
        });
        let answers = futures::future::join_all(emits).await;
        let answers: Vec<u32> = answers.into_iter().map(|a| a.expect("emit")).collect();
        assert_eq!(answers, (100..164).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(
            Arc::strong_count(&sink),
            2,
            "served while the plugin keeps it"
        );
        assert_eq!(sockets(dir.path()), before, "the socket went once dialled");
        tasks.unsubscribe().await.expect("unsubscribe");
        served_until_dropped(&sink, "the sink's server ends once the plugin drops it").await;
        assert_eq!(
            tasks.emit(1).await,
            Err(JobError::Refused("no subscriber".into()))
        );
        assert_eq!(sink.reports.load(Ordering::SeqCst), 64);
        client.kill().await;
        assert_nothing_left(dir.path(), automtls);
    }
}

async fn a_kept_callback_ends_with_the_plugin(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (client, tasks) = tasks_client(dir.path(), true, transport).await;
    let pid = client.pid().unwrap();
    let sink = Arc::new(HostProgress::default());
    tasks.subscribe(sink.clone()).await.expect("subscribe");
    assert_eq!(tasks.emit(4).await, Ok(8));
    client.kill().await;
    assert!(!pid_alive(pid));
    served_until_dropped(&sink, "the broker closed with the plugin").await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    let after = tasks.emit(5).await.unwrap_err();
    assert!(matches!(after, JobError::Call(_)), "{after:?}");
}

async fn a_plugin_returns_interfaces_the_host_calls_with_and_without_automtls(
    transport: Transport,
) {
    for automtls in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (client, tasks) = tasks_client(dir.path(), automtls, transport).await;
        let tallies: Vec<Arc<dyn Tally>> =
            futures::future::try_join_all((0..5u64).map(|i| tasks.tally(100 * i)))
                .await
                .expect("five tallies");
        for (i, tally) in (0u64..).zip(&tallies) {
            assert_eq!(tally.add(1).await, Ok(100 * i + 1));
            assert_eq!(tally.add(2).await, Ok(100 * i + 3));
        }
        // Each is its own object, served until the host drops it.
        let first = tallies[0].clone();
        drop(tallies);
        assert_eq!(first.add(10).await, Ok(13));
        client.kill().await;
        let after = first.add(1).await.unwrap_err();
        assert!(matches!(after, JobError::Call(_)), "{after:?}");
        assert_nothing_left(dir.path(), automtls);
    }
}

async fn a_callback_passed_back_and_forth_still_reaches_the_host(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (client, tasks) = tasks_client(dir.path(), true, transport).await;
    let sink = Arc::new(HostProgress::default());
    // host -> plugin (a client of the host's sink) -> host (a client of the plugin's server
    // of that client): two brokered hops each way.
    let echoed = tasks.echo(sink.clone()).await.expect("echo");
    assert_eq!(echoed.report(21).await, Ok(42));
    assert_eq!(sink.reports.load(Ordering::SeqCst), 1);
    drop(echoed);
    served_until_dropped(&sink, "dropping the echo ends both hops").await;
    client.kill().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

async fn a_callback_nobody_dials_is_served_for_10_s_only(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let (client, _tasks) = tasks_client(dir.path(), true, transport).await;
    let broker = client.broker().await.unwrap();
    let before = sockets(dir.path());
    let sink = Arc::new(HostProgress::default());
    // What the generated stub does before sending; here nobody receives the id.
    let progress: Arc<dyn Progress> = sink.clone();
    let id = plugin_runtime::__private::send_brokered(Some(&broker), progress)
        .await
        .expect("served");
    assert!(id > 0);
    // Over gRPC the callback waits on a socket of its own; natively, as an id of the
    // callbacks' session with the plugin (go-plugin's MuxBroker), with no socket.
    let waiting = usize::from(!transport.is_native());
    assert_eq!(
        sockets(dir.path()).len(),
        before.len() + waiting,
        "waiting for a dial"
    );
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(Arc::strong_count(&sink), 2, "still served at 9 s");
    served_until_dropped(&sink, "no dial within 10 s").await;
    assert_eq!(sockets(dir.path()), before, "its socket is gone");
    client.kill().await;
}

// Protobuf: the callback in a request field (`#[plugin(field = "add_server")]`), go-plugin's wire.

pub(crate) mod protobuf {
    use super::*;
    use plugin_runtime::Status;
    use plugin_tests::brokered::counter::{
        AddHelper, Counter, CounterPlugin, GetRequest, PutRequest, SumRequest, SumResponse,
    };

    /// The host's `AddHelper`; counts the sums it did.
    #[derive(Default)]
    struct HostAdder {
        sums: AtomicUsize,
    }

    #[plugin_runtime::async_trait]
    impl AddHelper for HostAdder {
        async fn sum(&self, request: SumRequest) -> Result<SumResponse, Status> {
            self.sums.fetch_add(1, Ordering::SeqCst);
            Ok(SumResponse {
                r: request.a + request.b,
            })
        }
    }

    on_both_transports!(a_typed_callback_travels_in_a_request_field_to_a_rust_plugin);

    /// Puts 1, 2 and 3 under "hello" with a typed `AddHelper` and reads back 6, on
    /// `transport`; the adder did every sum and is no longer served afterwards.
    async fn count_to_six(
        command: std::process::Command,
        handshake: plugin_runtime::HandshakeConfig,
        automtls: bool,
        transport: Transport,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(
            transport
                .config(handshake, command)
                .plugins(PluginSet::new().with("counter", CounterPlugin::host()))
                .unix_socket_dir(dir.path())
                .auto_mtls(automtls),
        )
        .expect("valid config");
        let counter = client
            .dispense::<dyn Counter>("counter")
            .await
            .expect("dispense the counter");
        transport.check(&client).await;
        let adder = Arc::new(HostAdder::default());
        for value in [1, 2, 3] {
            let request = PutRequest {
                add_server: 0,
                key: "hello".into(),
                value,
            };
            counter
                .put(request, adder.clone())
                .await
                .unwrap_or_else(|s| panic!("put {value} (AutoMTLS {automtls}): {s:?}"));
        }
        let got = counter
            .get(GetRequest {
                key: "hello".into(),
            })
            .await
            .expect("get");
        assert_eq!(got.value, 6, "AutoMTLS {automtls}");
        assert_eq!(adder.sums.load(Ordering::SeqCst), 3);
        eventually("each put's adder is no longer served", || {
            Arc::strong_count(&adder) == 1
        })
        .await;
        client.kill().await;
        assert_nothing_left(dir.path(), automtls);
    }

    pub(crate) async fn a_typed_callback_travels_in_a_request_field_to_a_rust_plugin(
        transport: Transport,
    ) {
        for automtls in [true, false] {
            count_to_six(
                std::process::Command::new(BROKER_FIXTURE),
                handshake(),
                automtls,
                transport,
            )
            .await;
        }
    }

    #[tokio::test]
    async fn a_typed_callback_travels_in_add_server_to_go_plugins_own_plugin() {
        let go = require_go!();
        let plugin = go.join(GO_BIDIRECTIONAL).join("plugin-go-grpc");
        for automtls in [true, false] {
            // go-plugin's plugin keeps its counts in files in its working directory.
            let work = tempfile::tempdir().unwrap();
            let mut command = std::process::Command::new(&plugin);
            command.current_dir(work.path());
            // Our host asks for the native transport; go-plugin's plugin answers gRPC.
            count_to_six(
                command,
                plugin_tests::brokered::counter::handshake(),
                automtls,
                Transport::PluginGrpc,
            )
            .await;
        }
    }
}

async fn a_crashed_plugins_brokered_sockets_are_removed_by_its_host(transport: Transport) {
    // No socket directory of the host's: the plugin's sockets go to its TMPDIR, which only the
    // host's bookkeeping can clean once the plugin is SIGKILLed.
    let tmp = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(BROKER_FIXTURE);
    command.env("TMPDIR", tmp.path());
    let client = Client::new(
        transport
            .config(handshake(), command)
            .plugins(PluginSet::new().with("worker", WorkerPlugin::host())),
    )
    .expect("valid config");
    let worker = worker(&client, transport).await;
    let id = worker.offer().await.expect("the plugin serves a reporter");
    // Dialled: the host has had the brokered socket's address.
    let broker = client.broker().await.unwrap();
    let reporter = broker
        .dispense::<dyn Reporter>(id, ReporterPlugin::host())
        .await
        .expect("dial the plugin's reporter");
    assert_eq!(sockets(tmp.path()).len(), 2, "the plugin's two sockets");
    let pid = client.pid().unwrap();
    // SAFETY: kill(2) on the plugin this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    eventually("the crash is noticed", || client.exited()).await;
    assert_eq!(
        sockets(tmp.path()).len(),
        2,
        "a killed plugin removes nothing"
    );
    drop(reporter);
    client.kill().await;
    assert_eq!(sockets(tmp.path()), Vec::<String>::new());
}
