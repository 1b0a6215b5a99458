//! A plugin serving `Numbers` (serde) as "numbers" and `Lines` (protobuf) as "lines"; see
//! `plugin_tests::streams`.

use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt as _;
use plugin_runtime::{ByteBuf, PluginSet, PluginStream, ServeConfig, Status};
use plugin_tests::streams::{
    Chunk, CountRequest, Lines, LinesPlugin, Number, NumberError, Numbers, NumbersPlugin, PANIC,
    ProduceRequest, Stats, handshake,
};

static STATS: Mutex<Stats> = Mutex::new(Stats {
    produced: 0,
    last_cancelled: None,
    sleeps_cancelled: 0,
    sleeping: 0,
});

fn stats() -> std::sync::MutexGuard<'static, Stats> {
    STATS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts the items of one `produce` stream; dropped with it, it records how far it got.
struct Produced(u64);

impl Drop for Produced {
    fn drop(&mut self) {
        stats().last_cancelled = Some(self.0);
    }
}

/// Endless `make(size)` items, one every `delay_ms`, counted in `STATS`.
fn produce<T: Send + 'static, E: Send + 'static>(
    size: u32,
    delay_ms: u64,
    make: fn(Vec<u8>) -> T,
) -> PluginStream<T, E> {
    {
        let mut stats = stats();
        stats.produced = 0;
        stats.last_cancelled = None;
    }
    let items = futures::stream::unfold(Produced(0), move |mut produced| async move {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        produced.0 += 1;
        stats().produced = produced.0;
        Some((Ok(make(vec![7; size as usize])), produced))
    });
    Box::pin(items)
}

/// Counts a `sleep` in progress; records its cancellation unless disarmed.
struct Sleeping(bool);

impl Sleeping {
    fn start() -> Sleeping {
        stats().sleeping += 1;
        Sleeping(true)
    }
}

impl Drop for Sleeping {
    fn drop(&mut self) {
        let mut stats = stats();
        stats.sleeping -= 1;
        if self.0 {
            stats.sleeps_cancelled += 1;
        }
    }
}

struct Fixture;

#[plugin_runtime::async_trait]
impl Numbers for Fixture {
    async fn count(
        &self,
        from: u64,
        to: u64,
        fail_at: Option<u64>,
    ) -> Result<PluginStream<u64, NumberError>, NumberError> {
        if from == PANIC {
            panic!("count panics on purpose");
        }
        if from > to {
            return Err(NumberError::Refused(format!("{from} > {to}")));
        }
        let items = (from..to).map(move |n| {
            if Some(n) == fail_at {
                Err(NumberError::Unlucky(n))
            } else {
                Ok(n)
            }
        });
        Ok(Box::pin(futures::stream::iter(items)))
    }

    async fn sum(
        &self,
        start: u64,
        mut numbers: PluginStream<u64, NumberError>,
    ) -> Result<u64, NumberError> {
        let mut sum = start;
        while let Some(n) = numbers.next().await {
            sum += n?;
        }
        Ok(sum)
    }

    async fn double(
        &self,
        numbers: PluginStream<u64, NumberError>,
    ) -> Result<PluginStream<u64, NumberError>, NumberError> {
        Ok(Box::pin(numbers.map(|n| match n {
            Ok(PANIC) => panic!("double panics on purpose"),
            Ok(13) => Err(NumberError::Unlucky(13)),
            Ok(n) => Ok(n * 2),
            Err(e) => Err(e),
        })))
    }

    async fn produce(
        &self,
        size: u32,
        delay_ms: u64,
    ) -> Result<PluginStream<ByteBuf, NumberError>, NumberError> {
        Ok(produce(size, delay_ms, ByteBuf::from))
    }

    async fn stats(&self) -> Result<Stats, NumberError> {
        Ok(stats().clone())
    }

    async fn sleep(&self, millis: u64) -> Result<(), NumberError> {
        let mut sleeping = Sleeping::start();
        tokio::time::sleep(Duration::from_millis(millis)).await;
        sleeping.0 = false;
        Ok(())
    }
}

#[plugin_runtime::async_trait]
impl Lines for Fixture {
    async fn count(&self, request: CountRequest) -> Result<PluginStream<Number, Status>, Status> {
        let CountRequest { from, to, fail_at } = request;
        if from == PANIC {
            panic!("count panics on purpose");
        }
        if from > to {
            return Err(Status::invalid_argument(format!("{from} > {to}")));
        }
        let items = (from..to).map(move |value| {
            if fail_at != 0 && value == fail_at {
                Err(Status::out_of_range(format!("{value} is too far")))
            } else {
                Ok(Number { value })
            }
        });
        // The stream ends at the status whatever comes after it.
        Ok(Box::pin(futures::stream::iter(items)))
    }

    async fn sum(&self, mut numbers: PluginStream<Number, Status>) -> Result<Number, Status> {
        let mut value = 0;
        while let Some(number) = numbers.next().await {
            match number?.value {
                13 => return Err(Status::invalid_argument("13 is unlucky")),
                n => value += n,
            }
        }
        Ok(Number { value })
    }

    async fn double(
        &self,
        numbers: PluginStream<Number, Status>,
    ) -> Result<PluginStream<Number, Status>, Status> {
        Ok(Box::pin(numbers.map(|number| match number?.value {
            PANIC => panic!("double panics on purpose"),
            13 => Err(Status::invalid_argument("13 is unlucky")),
            n => Ok(Number { value: n * 2 }),
        })))
    }

    async fn produce(
        &self,
        request: ProduceRequest,
    ) -> Result<PluginStream<Chunk, Status>, Status> {
        Ok(produce(request.size, request.delay_ms, |data| Chunk {
            data,
        }))
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new()
        .with("numbers", NumbersPlugin::new(Fixture))
        .with("lines", LinesPlugin::new(Fixture));
    plugin_runtime::serve_main(plugin_tests::transport_of_test(
        ServeConfig::new(handshake()).plugins(plugins),
    ))
}
