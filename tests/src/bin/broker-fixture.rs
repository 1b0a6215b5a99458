//! A plugin serving `Worker` as "worker": it calls back into its host through the broker, and
//! serves a `Reporter` of its own on request; and `Tasks` as "tasks", whose callbacks
//! (`Arc<dyn Progress>` in, `Arc<dyn Tally>` out) the generated code brokers. See
//! `plugin_tests::brokered`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use plugin_runtime::{BrokerServer, GrpcBroker, PluginSet, ServeConfig, Status};
use plugin_tests::brokered::counter::{
    AddHelper, Counter, CounterPlugin, Empty, GetRequest, GetResponse, PutRequest, SumRequest,
};
use plugin_tests::brokered::{
    Progress, Reporter, ReporterPlugin, Tally, Tasks, TasksPlugin, Worker, WorkerPlugin, handshake,
};
use plugin_tests::interfaces::JobError;

#[derive(Default)]
struct Fixture {
    kept: Mutex<Option<Arc<dyn Reporter>>>,
    offered: Mutex<Option<BrokerServer>>,
}

fn broker() -> Result<GrpcBroker, JobError> {
    GrpcBroker::current().ok_or_else(|| JobError::Refused("no broker for this call".into()))
}

async fn reporter(id: u32) -> Result<Arc<dyn Reporter>, JobError> {
    broker()?
        .dispense::<dyn Reporter>(id, ReporterPlugin::host())
        .await
        .map_err(|e| JobError::Refused(e.to_string()))
}

/// Makes one `call` per number, all at once; the sum of the answers, or the first error.
async fn sum_all<F: Future<Output = Result<u32, JobError>>>(
    numbers: Vec<u32>,
    call: impl FnMut(u32) -> F,
) -> Result<u64, JobError> {
    let answers = futures::future::join_all(numbers.into_iter().map(call)).await;
    answers
        .into_iter()
        .try_fold(0u64, |sum, answer| Ok(sum + u64::from(answer?)))
}

struct Offered;

#[plugin_runtime::async_trait]
impl Reporter for Offered {
    async fn report(&self, n: u32) -> Result<u32, JobError> {
        Ok(n + 1000)
    }
}

#[plugin_runtime::async_trait]
impl Worker for Fixture {
    async fn work(&self, reporter_id: u32, numbers: Vec<u32>) -> Result<u64, JobError> {
        let reporter = reporter(reporter_id).await?;
        sum_all(numbers, |n| {
            let reporter = reporter.clone();
            async move { reporter.report(n).await }
        })
        .await
    }

    async fn keep(&self, reporter_id: u32) -> Result<(), JobError> {
        let reporter = reporter(reporter_id).await?;
        *self
            .kept
            .lock()
            .map_err(|_| JobError::Refused("poisoned".into()))? = Some(reporter);
        Ok(())
    }

    async fn poke(&self, n: u32) -> Result<u32, JobError> {
        let kept = self
            .kept
            .lock()
            .map_err(|_| JobError::Refused("poisoned".into()))?
            .clone();
        match kept {
            Some(reporter) => reporter.report(n).await,
            None => Err(JobError::Refused("nothing kept".into())),
        }
    }

    async fn offer(&self) -> Result<u32, JobError> {
        let broker = broker()?;
        let id = broker.next_id();
        let server = broker
            .accept_and_serve(id, ReporterPlugin::new(Offered))
            .await
            .map_err(|e| JobError::Refused(e.to_string()))?;
        *self
            .offered
            .lock()
            .map_err(|_| JobError::Refused("poisoned".into()))? = Some(server);
        Ok(id)
    }

    async fn withdraw(&self) -> Result<(), JobError> {
        let server = self
            .offered
            .lock()
            .map_err(|_| JobError::Refused("poisoned".into()))?
            .take();
        if let Some(server) = server {
            server.stop().await;
        }
        Ok(())
    }
}

/// `Tasks`: keeps at most one subscribed sink.
#[derive(Default)]
struct TaskFixture {
    subscribed: Mutex<Option<Arc<dyn Progress + Send + Sync>>>,
}

fn poisoned<T>(_: T) -> JobError {
    JobError::Refused("poisoned".into())
}

struct Total(AtomicU64);

#[plugin_runtime::async_trait]
impl Tally for Total {
    async fn add(&self, n: u64) -> Result<u64, JobError> {
        Ok(self.0.fetch_add(n, Ordering::SeqCst) + n)
    }
}

#[plugin_runtime::async_trait]
impl Tasks for TaskFixture {
    async fn run(&self, numbers: Vec<u32>, sink: Arc<dyn Progress>) -> Result<u64, JobError> {
        sum_all(numbers, |n| {
            let sink = sink.clone();
            async move { sink.report(n).await }
        })
        .await
    }

    async fn subscribe(&self, sink: Arc<dyn Progress + Send + Sync>) -> Result<(), JobError> {
        *self.subscribed.lock().map_err(poisoned)? = Some(sink);
        Ok(())
    }

    async fn emit(&self, n: u32) -> Result<u32, JobError> {
        let sink = self.subscribed.lock().map_err(poisoned)?.clone();
        match sink {
            Some(sink) => sink.report(n).await,
            None => Err(JobError::Refused("no subscriber".into())),
        }
    }

    async fn unsubscribe(&self) -> Result<(), JobError> {
        self.subscribed.lock().map_err(poisoned)?.take();
        Ok(())
    }

    async fn tally(&self, start: u64) -> Result<Arc<dyn Tally>, JobError> {
        Ok(Arc::new(Total(AtomicU64::new(start))))
    }

    async fn echo(&self, sink: Arc<dyn Progress>) -> Result<Arc<dyn Progress>, JobError> {
        Ok(sink)
    }
}

/// `Counter` in memory, the additions left to the host's `AddHelper`.
#[derive(Default)]
struct Counts(tokio::sync::Mutex<HashMap<String, i64>>);

#[plugin_runtime::async_trait]
impl Counter for Counts {
    async fn get(&self, request: GetRequest) -> Result<GetResponse, Status> {
        let counts = self.0.lock().await;
        let value = counts.get(&request.key).copied().unwrap_or(0);
        Ok(GetResponse { value })
    }

    async fn put(&self, request: PutRequest, adder: Arc<dyn AddHelper>) -> Result<Empty, Status> {
        let mut counts = self.0.lock().await;
        let stored = counts.get(&request.key).copied().unwrap_or(0);
        let sum = adder
            .sum(SumRequest {
                a: stored,
                b: request.value,
            })
            .await?;
        counts.insert(request.key, sum.r);
        Ok(Empty {})
    }
}

fn main() -> std::process::ExitCode {
    let plugins = PluginSet::new()
        .with("worker", WorkerPlugin::new(Fixture::default()))
        .with("tasks", TasksPlugin::new(TaskFixture::default()))
        .with("counter", CounterPlugin::new(Counts::default()));
    plugin_runtime::serve_main(plugin_tests::transport_of_test(
        ServeConfig::new(handshake()).plugins(plugins),
    ))
}
