//! A plugin serving `Bulk` (see `plugin_tests::bulk`): it makes the chunks of a download as
//! the host takes them, and checks and drops the chunks of an upload as they arrive.

use futures::StreamExt as _;
use plugin_runtime::{PluginSet, PluginStream, ServeConfig, Status};
use plugin_tests::bulk::{
    Bulk, BulkPlugin, Chunk, DownloadRequest, PLUGIN_NAME, Pattern, UploadSummary, handshake,
};

struct Fixture;

#[plugin_runtime::async_trait]
impl Bulk for Fixture {
    async fn download(
        &self,
        request: DownloadRequest,
    ) -> Result<PluginStream<Chunk, Status>, Status> {
        let DownloadRequest { total, chunk_size } = request;
        if chunk_size < 8 {
            return Err(Status::invalid_argument("chunks have at least 8 bytes"));
        }
        let size = u64::from(chunk_size);
        let pattern = Pattern::new(chunk_size as usize);
        let chunks = futures::stream::iter(0..total.div_ceil(size)).map(move |i| {
            let len = size.min(total - i * size) as usize;
            Ok(Chunk {
                data: pattern.chunk(i, len),
            })
        });
        Ok(chunks.boxed())
    }

    async fn upload(
        &self,
        mut chunks: PluginStream<Chunk, Status>,
    ) -> Result<UploadSummary, Status> {
        let mut pattern = None::<Pattern>;
        while let Some(next) = chunks.next().await {
            let data = next?.data;
            pattern
                .get_or_insert_with(|| Pattern::new(data.len()))
                .check(&data)
                .map_err(Status::data_loss)?;
        }
        let (bytes, chunks) = pattern.map_or((0, 0), |p| (p.bytes, p.chunks));
        Ok(UploadSummary { bytes, chunks })
    }
}

fn main() -> std::process::ExitCode {
    plugin_runtime::serve_main(
        ServeConfig::new(handshake())
            .plugins(PluginSet::new().with(PLUGIN_NAME, BulkPlugin::new(Fixture))),
    )
}
