//! Serving a plugin set over net/rpc: every connection the host makes carries a yamux session
//! with the control services, the plugin's stdout and stderr, and a MuxBroker.

use std::sync::Arc;

use tokio::io::AsyncWriteExt as _;
use tokio::sync::watch;

use super::SHUTDOWN_GRACE;
use super::stdio::StdioCapture;
use crate::netrpc::{control, session};
use crate::plugin::PluginSet;
use crate::proto::stdio_data::Channel;
use crate::tls::ServerTls;
use crate::transport::io::BoxedIo;
use crate::transport::listener::Listener;
use crate::transport::serve::{accept, secured};

/// Serves until the host calls `Control.Quit` (or another shutdown), then lets calls in
/// flight finish for a moment.
pub(super) async fn serve_until_shutdown(
    listener: Listener,
    tls: Option<ServerTls>,
    plugins: PluginSet,
    capture: Option<Arc<StdioCapture>>,
    shutdown_tx: watch::Sender<bool>,
    mut shutdown_rx: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let accepting = async {
        loop {
            let io = accept(&listener).await;
            connections.spawn(serve_connection(
                io,
                tls.clone(),
                plugins.clone(),
                capture.clone(),
                shutdown_tx.clone(),
            ));
            while connections.try_join_next().is_some() {}
        }
    };
    tokio::select! {
        () = accepting => {}
        _ = shutdown_rx.wait_for(|stop| *stop) => {}
    }
    drop(listener);
    if let Some(capture) = &capture {
        capture.finish();
    }
    // Calls in flight get the grace period to finish; a host that closes its session after
    // Quit (go-plugin's and ours do) ends the wait at once. The rest are dropped with the set.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    tracing::debug!("plugin net/rpc server stopped");
}

/// One host connection: TLS first when on, then the session.
async fn serve_connection(
    io: BoxedIo,
    tls: Option<ServerTls>,
    plugins: PluginSet,
    capture: Option<Arc<StdioCapture>>,
    shutdown: watch::Sender<bool>,
) {
    let Some(io) = secured(io, tls.as_ref()).await else {
        return;
    };
    let Some(session) = session::accept_plugin(io).await else {
        tracing::debug!("the host closed the connection before opening its streams");
        return;
    };
    // The output goes to the first connection only, as the gRPC stdio stream does.
    let stdio = capture
        .and_then(|c| c.take())
        .map(|rx| tokio::spawn(copy_stdio(rx, session.stdout, session.stderr)));
    let quit = move || {
        let _ = shutdown.send(true);
    };
    control::services(plugins, session.broker, quit)
        .serve(session.control)
        .await;
    if let Some(stdio) = stdio {
        stdio.abort();
    }
}

/// The captured output, raw, to the host's stdout and stderr streams.
async fn copy_stdio(
    mut chunks: tokio::sync::mpsc::Receiver<crate::proto::StdioData>,
    mut stdout: BoxedIo,
    mut stderr: BoxedIo,
) {
    while let Some(chunk) = chunks.recv().await {
        let stream = if chunk.channel == Channel::Stderr as i32 {
            &mut stderr
        } else {
            &mut stdout
        };
        if stream.write_all(&chunk.data).await.is_err() {
            break;
        }
    }
    let _ = stdout.shutdown().await;
    let _ = stderr.shutdown().await;
}
