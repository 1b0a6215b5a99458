//! Streaming methods of `#[plugin_interface]`, both encodings, across real processes: the three
//! shapes, errors mid-stream both ways, cancellation from either end, flow control, deadlines.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use plugin_runtime::{Client, ClientConfig, Code, PluginSet, PluginStream, Status};
use plugin_tests::streams::{
    CountRequest, Lines, LinesPlugin, Number, NumberError, Numbers, NumbersPlugin, ProduceRequest,
    handshake,
};

const STREAM_FIXTURE: &str = env!("CARGO_BIN_EXE_stream-fixture");

/// Only guards against a hang; no test depends on how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn config() -> ClientConfig {
    ClientConfig::new(handshake())
        .command(Command::new(STREAM_FIXTURE))
        .plugins(
            PluginSet::new()
                .with("numbers", NumbersPlugin::host())
                .with("lines", LinesPlugin::host()),
        )
}

async fn start(config: ClientConfig) -> (Client, Arc<dyn Numbers>, Arc<dyn Lines>) {
    let client = Client::new(config).expect("valid config");
    let numbers = client.dispense::<dyn Numbers>("numbers").await.unwrap();
    let lines = client.dispense::<dyn Lines>("lines").await.unwrap();
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

#[tokio::test]
async fn serde_round_trips_in_the_three_shapes() {
    let (client, numbers, _) = start(config()).await;
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

#[tokio::test]
async fn protobuf_round_trips_in_the_three_shapes() {
    let (client, _, lines) = start(config()).await;
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

#[tokio::test]
async fn serde_errors_are_values_in_both_directions() {
    let (client, numbers, _) = start(config()).await;
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

#[tokio::test]
async fn protobuf_errors_end_the_stream_as_the_users_error_type() {
    let (client, _, lines) = start(config()).await;
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

#[tokio::test]
async fn a_protobuf_input_stream_that_fails_cancels_the_call_with_its_error() {
    let (client, _, lines) = start(config()).await;
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

/// How many items the plugin's last `produce` stream had made when it was dropped, once it is.
async fn cancelled_after(numbers: &Arc<dyn Numbers>) -> u64 {
    for _ in 0..1000 {
        if let Some(n) = numbers.stats().await.unwrap().last_cancelled {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the plugin's producer was never dropped");
}

#[tokio::test]
async fn dropping_the_output_stream_cancels_the_plugins_producer() {
    let (client, numbers, lines) = start(config()).await;
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

#[tokio::test]
async fn a_slow_consumer_keeps_the_producer_bounded() {
    const SIZE: u32 = 64 * 1024;
    let (client, numbers, _) = start(config()).await;
    let mut chunks = numbers.produce(SIZE, 0).await.unwrap();
    let mut consumed = 0u64;
    for _ in 0..20 {
        assert_eq!(chunks.next().await.unwrap().unwrap().len(), SIZE as usize);
        consumed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let produced = numbers.stats().await.unwrap().produced;
    // The windows of HTTP/2 flow control (8 MiB a stream: 128 chunks) and a few buffers; an
    // unbounded producer would have made thousands by now.
    assert!(
        produced - consumed < 400,
        "produced {produced} for {consumed} consumed"
    );
    drop(chunks);
    client.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_streams_on_one_client() {
    let (client, numbers, lines) = start(config()).await;
    let tasks: Vec<_> = (0..32u64)
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

#[tokio::test]
async fn a_plugin_killed_mid_stream_ends_the_hosts_stream_with_an_error() {
    let (client, numbers, _) = start(config()).await;
    let pid = client.pid().unwrap();
    let mut chunks = numbers.produce(16, 10).await.unwrap();
    for _ in 0..3 {
        chunks.next().await.unwrap().unwrap();
    }
    // SAFETY: kill(2) on the plugin this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    let rest = collect(chunks).await;
    match rest.last() {
        Some(Err(NumberError::Call(why))) => {
            assert!(why.contains("killed by signal 9"), "{why}")
        }
        other => panic!("expected a call failure, got {other:?}"),
    }
    client.kill().await;
}

#[tokio::test]
async fn the_call_timeout_cancels_a_slow_unary_call_in_the_plugin() {
    let (client, numbers, _) = start(config().call_timeout(Duration::from_millis(300))).await;
    let result = tokio::time::timeout(HANG_GUARD, numbers.sleep(30_000))
        .await
        .expect("the call ends");
    match result {
        Err(NumberError::Call(why)) => assert!(why.contains("deadline"), "{why}"),
        other => panic!("expected a deadline failure, got {other:?}"),
    }
    let mut cancelled = 0;
    for _ in 0..500 {
        cancelled = numbers.stats().await.unwrap().sleeps_cancelled;
        if cancelled > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled, 1, "the plugin saw the call cancelled");
    client.kill().await;
}

#[tokio::test]
async fn the_call_timeout_ends_a_slow_stream_and_its_producer() {
    let (client, numbers, _) = start(config().call_timeout(Duration::from_millis(500))).await;
    let chunks = numbers.produce(16, 50).await.unwrap();
    let items = collect(chunks).await;
    match items.last() {
        Some(Err(NumberError::Call(why))) => assert!(why.contains("deadline"), "{why}"),
        other => panic!("expected a deadline failure, got {other:?}"),
    }
    assert!(items.len() < 20, "{} items in 500 ms", items.len());
    let stats = numbers.stats().await.unwrap();
    assert!(stats.last_cancelled.is_some(), "{stats:?}");
    client.kill().await;
}
