//! Streaming methods of `#[plugin_interface]`, both encodings, across real processes, on both
//! transports: the three shapes, errors and panics mid-stream both ways, cancellation from
//! either end, a plugin answering before its input ended, flow control, deadlines, a plugin
//! killed mid-stream.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt as _, StreamExt as _};
use plugin_runtime::{Client, ClientConfig, Code, PluginSet, PluginStream, Status};
use plugin_tests::streams::{
    CountRequest, Lines, LinesPlugin, Number, NumberError, Numbers, NumbersPlugin, PANIC,
    ProduceRequest, Stats, handshake,
};

use crate::common::{Transport, eventually, on_both_transports};

const STREAM_FIXTURE: &str = env!("CARGO_BIN_EXE_stream-fixture");

/// Only guards against a hang; no test depends on how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(60);

on_both_transports!(
    serde_round_trips_in_the_three_shapes,
    protobuf_round_trips_in_the_three_shapes,
    serde_errors_are_values_in_both_directions,
    protobuf_errors_end_the_stream_as_the_users_error_type,
    a_protobuf_input_stream_that_fails_cancels_the_call_with_its_error,
    a_panic_in_a_streaming_method_or_its_stream_fails_that_call_only,
    a_plugin_answering_before_its_input_ended_drops_the_hosts_input,
    dropping_the_output_stream_cancels_the_plugins_producer,
    dropping_a_bidi_output_stream_ends_the_call_and_drops_the_hosts_input,
    a_slow_consumer_keeps_the_producer_bounded,
    a_plugin_killed_mid_stream_fails_every_open_stream_saying_so,
    the_call_timeout_cancels_a_slow_unary_call_in_the_plugin,
    dropping_a_unary_call_cancels_it_in_the_plugin,
    the_call_timeout_ends_a_slow_stream_and_its_producer,
);
on_both_transports!(multi_thread: sixty_four_concurrent_streams_on_one_client);

/// The host's config for the stream fixture on `transport`.
fn config(transport: Transport) -> ClientConfig {
    transport
        .config(handshake(), Command::new(STREAM_FIXTURE))
        .plugins(
            PluginSet::new()
                .with("numbers", NumbersPlugin::host())
                .with("lines", LinesPlugin::host()),
        )
}

/// Starts `config` (made by [`config`] for `transport`); checks that it is on `transport`.
async fn start(
    transport: Transport,
    config: ClientConfig,
) -> (Client, Arc<dyn Numbers>, Arc<dyn Lines>) {
    let client = Client::new(config).expect("valid config");
    let numbers = client.dispense::<dyn Numbers>("numbers").await.unwrap();
    let lines = client.dispense::<dyn Lines>("lines").await.unwrap();
    transport.check(&client).await;
    (client, numbers, lines)
}

fn stream<T: Send + 'static, E: Send + 'static>(
    items: impl IntoIterator<Item = Result<T, E>, IntoIter: Send + 'static>,
) -> PluginStream<T, E> {
    Box::pin(futures::stream::iter(items))
}

fn numbers(values: impl IntoIterator<Item = u64>) -> Vec<Result<Number, Status>> {
    values
        .into_iter()
        .map(|value| Ok(Number { value }))
        .collect()
}

async fn collect<T, E>(items: PluginStream<T, E>) -> Vec<Result<T, E>> {
    tokio::time::timeout(HANG_GUARD, items.collect())
        .await
        .expect("the stream ends")
}

fn values(items: Vec<Result<Number, Status>>) -> Vec<u64> {
    items.into_iter().map(|n| n.unwrap().value).collect()
}

pub(crate) async fn serde_round_trips_in_the_three_shapes(transport: Transport) {
    let (client, numbers, _) = start(transport, config(transport)).await;
    let counted = collect(numbers.count(3, 8, None).await.unwrap()).await;
    assert_eq!(counted, [Ok(3), Ok(4), Ok(5), Ok(6), Ok(7)]);
    let sum = numbers.sum(100, stream((1..=10).map(Ok))).await;
    assert_eq!(sum, Ok(155));
    // No values before the stream, and an empty stream.
    assert_eq!(numbers.sum(0, stream([])).await, Ok(0));
    let doubled = collect(numbers.double(stream([Ok(1), Ok(2), Ok(3)])).await.unwrap()).await;
    assert_eq!(doubled, [Ok(2), Ok(4), Ok(6)]);
    client.kill().await;
}

pub(crate) async fn protobuf_round_trips_in_the_three_shapes(transport: Transport) {
    let (client, _, lines) = start(transport, config(transport)).await;
    let request = CountRequest {
        from: 3,
        to: 8,
        fail_at: 0,
    };
    let counted = collect(lines.count(request).await.unwrap()).await;
    assert_eq!(values(counted), [3, 4, 5, 6, 7]);
    let sum = lines.sum(stream(numbers(1..=10))).await.unwrap();
    assert_eq!(sum.value, 55);
    let doubled = collect(lines.double(stream(numbers([1, 2, 3]))).await.unwrap()).await;
    assert_eq!(values(doubled), [2, 4, 6]);
    client.kill().await;
}

async fn serde_errors_are_values_in_both_directions(transport: Transport) {
    let (client, numbers, _) = start(transport, config(transport)).await;
    // From the plugin: an `Err` item, and the stream goes on.
    let counted = collect(numbers.count(3, 7, Some(5)).await.unwrap()).await;
    assert_eq!(counted, [Ok(3), Ok(4), Err(NumberError::Unlucky(5)), Ok(6)]);
    // An error at once arrives as the stream's first and only item.
    let refused = collect(numbers.count(7, 3, None).await.unwrap()).await;
    assert_eq!(refused, [Err(NumberError::Refused("7 > 3".into()))]);
    // From the host: the plugin receives the `Err` item and decides (here: its result).
    let input = stream([Ok(1), Err(NumberError::Unlucky(2)), Ok(3)]);
    assert_eq!(numbers.sum(0, input).await, Err(NumberError::Unlucky(2)));
    let input = stream([Ok(1), Err(NumberError::Unlucky(2)), Ok(13), Ok(4)]);
    let doubled = collect(numbers.double(input).await.unwrap()).await;
    assert_eq!(
        doubled,
        [
            Ok(2),
            Err(NumberError::Unlucky(2)),
            Err(NumberError::Unlucky(13)),
            Ok(8)
        ]
    );
    client.kill().await;
}

async fn protobuf_errors_end_the_stream_as_the_users_error_type(transport: Transport) {
    let (client, _, lines) = start(transport, config(transport)).await;
    // From the plugin, mid-stream: a status that ends the stream.
    let request = CountRequest {
        from: 3,
        to: 9,
        fail_at: 5,
    };
    let mut counted = collect(lines.count(request).await.unwrap()).await;
    let status = counted.pop().unwrap().unwrap_err();
    assert_eq!(values(counted), [3, 4]);
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert_eq!(status.message(), "5 is too far");
    // At once: the call's error.
    let refused = lines
        .count(CountRequest {
            from: 9,
            to: 3,
            fail_at: 0,
        })
        .await;
    let status = refused.err().unwrap();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // The plugin refusing what the host streams.
    let status = lines.sum(stream(numbers([1, 13, 2]))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut doubled = collect(lines.double(stream(numbers([1, 13, 2]))).await.unwrap()).await;
    let status = doubled.pop().unwrap().unwrap_err();
    assert_eq!(values(doubled), [2]);
    assert_eq!(status.message(), "13 is unlucky");
    client.kill().await;
}

async fn a_protobuf_input_stream_that_fails_cancels_the_call_with_its_error(transport: Transport) {
    let (client, _, lines) = start(transport, config(transport)).await;
    // Client streaming: the call returns the input's error.
    let input = stream(
        numbers([1, 2])
            .into_iter()
            .chain([Err(Status::aborted("host gave up"))]),
    );
    let status = tokio::time::timeout(HANG_GUARD, lines.sum(input))
        .await
        .expect("the call ends")
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(status.message(), "host gave up");
    // Bidi: the input's error is the output's last item.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Number, Status>>(1);
    let mut doubled = lines.double(Box::pin(rx)).await.unwrap();
    tx.send(Ok(Number { value: 4 })).await.unwrap();
    assert_eq!(doubled.next().await.unwrap().unwrap().value, 8);
    tx.send(Err(Status::aborted("no more"))).await.unwrap();
    let rest = collect(doubled).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    let status = rest.into_iter().next().unwrap().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Aborted, "no more")
    );
    // The connection serves on.
    assert_eq!(lines.sum(stream(numbers([1, 2]))).await.unwrap().value, 3);
    client.kill().await;
}

/// What the plugin observed, once `until` holds (waited for, bounded).
async fn stats_until(numbers: &Arc<dyn Numbers>, what: &str, until: fn(&Stats) -> bool) -> Stats {
    for _ in 0..1000 {
        let stats = numbers.stats().await.unwrap();
        if until(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

/// How many items the plugin's last `produce` stream had made when it was dropped, once it is.
async fn cancelled_after(numbers: &Arc<dyn Numbers>) -> u64 {
    let dropped = |stats: &Stats| stats.last_cancelled.is_some();
    let stats = stats_until(numbers, "the plugin's producer is dropped", dropped).await;
    stats.last_cancelled.unwrap_or_default()
}

async fn dropping_the_output_stream_cancels_the_plugins_producer(transport: Transport) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    let mut chunks = numbers.produce(16, 5).await.unwrap();
    for _ in 0..5 {
        assert_eq!(chunks.next().await.unwrap().unwrap().len(), 16);
    }
    drop(chunks);
    let cancelled = cancelled_after(&numbers).await;
    assert!(cancelled >= 5, "cancelled after {cancelled} items");

    let request = ProduceRequest {
        size: 16,
        delay_ms: 5,
    };
    let mut chunks = lines.produce(request).await.unwrap();
    for _ in 0..3 {
        assert_eq!(chunks.next().await.unwrap().unwrap().data.len(), 16);
    }
    drop(chunks);
    let cancelled = cancelled_after(&numbers).await;
    assert!(cancelled >= 3, "cancelled after {cancelled} items");
    client.kill().await;
}

async fn a_slow_consumer_keeps_the_producer_bounded(transport: Transport) {
    const SIZE: u32 = 64 * 1024;
    let (client, numbers, _) = start(transport, config(transport)).await;
    let mut chunks = numbers.produce(SIZE, 0).await.unwrap();
    let mut consumed = 0u64;
    for _ in 0..20 {
        assert_eq!(chunks.next().await.unwrap().unwrap().len(), SIZE as usize);
        consumed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let produced = numbers.stats().await.unwrap().produced;
    // The flow-control windows (HTTP/2's 8 MiB a stream: 128 chunks; the native transport's
    // 1 MiB) and a few buffers; an unbounded producer would have made thousands by now.
    assert!(
        produced - consumed < 400,
        "produced {produced} for {consumed} consumed"
    );
    drop(chunks);
    client.kill().await;
}

/// 64 callers, each making a call of each shape.
async fn sixty_four_concurrent_streams_on_one_client(transport: Transport) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let numbers = numbers.clone();
            let lines = lines.clone();
            tokio::spawn(async move {
                let counted = collect(numbers.count(i, i + 50, None).await.unwrap()).await;
                assert_eq!(counted, (i..i + 50).map(Ok).collect::<Vec<_>>());
                // 13 is refused by the plugin.
                let sent = (0..i + 20).filter(|n| *n != 13);
                let doubled = collect(
                    lines
                        .double(stream(self::numbers(sent.clone())))
                        .await
                        .unwrap(),
                );
                assert_eq!(
                    values(doubled.await),
                    sent.map(|n| n * 2).collect::<Vec<_>>()
                );
                let sum = numbers.sum(i, stream((0..100).map(Ok))).await;
                assert_eq!(sum, Ok(i + 4950));
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    client.kill().await;
}

async fn the_call_timeout_cancels_a_slow_unary_call_in_the_plugin(transport: Transport) {
    let config = config(transport).call_timeout(Duration::from_millis(300));
    let (client, numbers, _) = start(transport, config).await;
    let result = tokio::time::timeout(HANG_GUARD, numbers.sleep(30_000))
        .await
        .expect("the call ends");
    match result {
        Err(NumberError::Call(why)) => assert!(why.contains("deadline"), "{why}"),
        other => panic!("expected a deadline failure, got {other:?}"),
    }
    let stats = stats_until(&numbers, "the plugin sees the call cancelled", |stats| {
        stats.sleeps_cancelled > 0
    })
    .await;
    assert_eq!(stats.sleeps_cancelled, 1, "{stats:?}");
    client.kill().await;
}

async fn dropping_a_unary_call_cancels_it_in_the_plugin(transport: Transport) {
    let (client, numbers, _) = start(transport, config(transport)).await;
    let call = tokio::spawn({
        let numbers = numbers.clone();
        async move { numbers.sleep(30_000).await }
    });
    stats_until(&numbers, "the plugin is inside the call", |stats| {
        stats.sleeping == 1
    })
    .await;
    call.abort();
    let stats = stats_until(&numbers, "the plugin sees the call cancelled", |stats| {
        stats.sleeping == 0
    })
    .await;
    assert_eq!(stats.sleeps_cancelled, 1, "{stats:?}");
    client.kill().await;
}

async fn the_call_timeout_ends_a_slow_stream_and_its_producer(transport: Transport) {
    let config = config(transport).call_timeout(Duration::from_millis(500));
    let (client, numbers, _) = start(transport, config).await;
    let chunks = numbers.produce(16, 50).await.unwrap();
    let items = collect(chunks).await;
    match items.last() {
        Some(Err(NumberError::Call(why))) => assert!(why.contains("deadline"), "{why}"),
        other => panic!("expected a deadline failure, got {other:?}"),
    }
    assert!(items.len() < 20, "{} items in 500 ms", items.len());
    // The cancellation reaches the plugin's producer a moment after the host gave up.
    cancelled_after(&numbers).await;
    client.kill().await;
}

fn assert_panicked(why: &str, what: &str) {
    assert!(
        why.contains("panicked while serving the call") && why.contains(what),
        "{why}"
    );
}

async fn a_panic_in_a_streaming_method_or_its_stream_fails_that_call_only(transport: Transport) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    // In the method, before any stream: the call's error.
    match numbers.count(PANIC, PANIC + 3, None).await.err() {
        Some(NumberError::Call(why)) => assert_panicked(&why, "count panics on purpose"),
        other => panic!("expected the panic as the call's failure, got {other:?}"),
    }
    let status = lines
        .count(CountRequest {
            from: PANIC,
            to: PANIC + 3,
            fail_at: 0,
        })
        .await
        .err()
        .expect("the panic fails the call");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_panicked(status.message(), "count panics on purpose");
    // In the stream, mid-way: the items before it, then the panic, which ends the stream.
    let doubled = collect(
        numbers
            .double(stream([Ok(1), Ok(PANIC), Ok(3)]))
            .await
            .unwrap(),
    )
    .await;
    match &doubled[..] {
        [Ok(2), Err(NumberError::Call(why))] => assert_panicked(why, "double panics on purpose"),
        other => panic!("expected 2 then the panic, got {other:?}"),
    }
    let input = stream(self::numbers([1, PANIC, 3]));
    let mut doubled = collect(lines.double(input).await.unwrap()).await;
    let status = doubled.pop().unwrap().unwrap_err();
    assert_eq!(values(doubled), [2]);
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert_panicked(status.message(), "double panics on purpose");
    // The plugin serves on, on the same connection.
    assert_eq!(numbers.sum(1, stream([Ok(2), Ok(3)])).await, Ok(6));
    let sum = lines.sum(stream(self::numbers([4, 5]))).await.unwrap();
    assert_eq!(sum.value, 9);
    client.kill().await;
}

/// An input stream the test feeds by hand and never ends: only its receiver being dropped
/// (the call over, in the plugin and the host) closes the sender.
fn open_input<T: Send + 'static, E: Send + 'static>()
-> (mpsc::Sender<Result<T, E>>, PluginStream<T, E>) {
    let (tx, rx) = mpsc::channel(4);
    (tx, Box::pin(rx))
}

async fn a_plugin_answering_before_its_input_ended_drops_the_hosts_input(transport: Transport) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    // Serde: an `Err` item is the plugin's answer, while the host still has more to send.
    let (mut tx, input) = open_input();
    tx.send(Ok(1)).await.unwrap();
    tx.send(Err(NumberError::Unlucky(2))).await.unwrap();
    let sum = tokio::time::timeout(HANG_GUARD, numbers.sum(0, input))
        .await
        .expect("the plugin's answer ends the call");
    assert_eq!(sum, Err(NumberError::Unlucky(2)));
    eventually("the host drops the input of a finished call", || {
        tx.is_closed()
    })
    .await;
    // Protobuf: 13 fails the call in the plugin.
    let (mut tx, input) = open_input();
    tx.send(Ok(Number { value: 1 })).await.unwrap();
    tx.send(Ok(Number { value: 13 })).await.unwrap();
    let status = tokio::time::timeout(HANG_GUARD, lines.sum(input))
        .await
        .expect("the plugin's answer ends the call")
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "13 is unlucky")
    );
    eventually("the host drops the input of a finished call", || {
        tx.is_closed()
    })
    .await;
    assert_eq!(numbers.sum(0, stream([Ok(7)])).await, Ok(7));
    client.kill().await;
}

async fn dropping_a_bidi_output_stream_ends_the_call_and_drops_the_hosts_input(
    transport: Transport,
) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    let (mut tx, input) = open_input();
    let mut doubled = numbers.double(input).await.unwrap();
    tx.send(Ok(21)).await.unwrap();
    assert_eq!(doubled.next().await, Some(Ok(42)));
    drop(doubled);
    eventually("dropping the output ends the call's input", || {
        tx.is_closed()
    })
    .await;

    let (mut tx, input) = open_input();
    let mut doubled = lines.double(input).await.unwrap();
    tx.send(Ok(Number { value: 4 })).await.unwrap();
    assert_eq!(doubled.next().await.unwrap().unwrap().value, 8);
    drop(doubled);
    eventually("dropping the output ends the call's input", || {
        tx.is_closed()
    })
    .await;
    // Cancelled calls leave the connection serving.
    let doubled = collect(numbers.double(stream([Ok(5)])).await.unwrap()).await;
    assert_eq!(doubled, [Ok(10)]);
    client.kill().await;
}

fn killed_by_sigkill(why: &str) {
    assert!(why.contains("killed by signal 9"), "{why}");
}

/// A stream of each shape open (with items through it) when the plugin is SIGKILLed: each ends
/// with a failure naming the plugin's death, and no call hangs.
async fn a_plugin_killed_mid_stream_fails_every_open_stream_saying_so(transport: Transport) {
    let (client, numbers, lines) = start(transport, config(transport)).await;
    let pid = client.pid().unwrap();
    let mut chunks = numbers.produce(16, 10).await.unwrap();
    let mut pb_chunks = lines
        .produce(ProduceRequest {
            size: 16,
            delay_ms: 10,
        })
        .await
        .unwrap();
    for _ in 0..3 {
        chunks.next().await.unwrap().unwrap();
        pb_chunks.next().await.unwrap().unwrap();
    }
    let (mut bidi_tx, input) = open_input();
    let mut doubled = numbers.double(input).await.unwrap();
    bidi_tx.send(Ok(1)).await.unwrap();
    assert_eq!(doubled.next().await, Some(Ok(2)));
    let (mut sum_tx, input) = open_input();
    sum_tx.send(Ok(Number { value: 1 })).await.unwrap();
    let sum = tokio::spawn({
        let lines = lines.clone();
        async move { lines.sum(input).await }
    });
    // SAFETY: kill(2) on the plugin this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    match collect(chunks).await.last() {
        Some(Err(NumberError::Call(why))) => killed_by_sigkill(why),
        other => panic!("server stream (serde): expected a call failure, got {other:?}"),
    }
    match collect(pb_chunks).await.last() {
        Some(Err(status)) => {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            killed_by_sigkill(status.message());
        }
        other => panic!("server stream (protobuf): expected a call failure, got {other:?}"),
    }
    match collect(doubled).await.last() {
        Some(Err(NumberError::Call(why))) => killed_by_sigkill(why),
        other => panic!("bidi stream: expected a call failure, got {other:?}"),
    }
    let sum = tokio::time::timeout(HANG_GUARD, sum)
        .await
        .expect("the client stream's call ends")
        .unwrap();
    match sum {
        Err(status) => {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            killed_by_sigkill(status.message());
        }
        Ok(sum) => panic!("client stream: expected a call failure, got {sum:?}"),
    }
    eventually("the calls' inputs are dropped", || {
        bidi_tx.is_closed() && sum_tx.is_closed()
    })
    .await;
    // A new call fails at once, saying so.
    match numbers.count(1, 2, None).await.err() {
        Some(NumberError::Call(why)) => killed_by_sigkill(&why),
        other => panic!("a call after the kill: expected a call failure, got {other:?}"),
    }
    client.kill().await;
}
