//! The plugin side: [`serve`] turns a binary into a go-plugin-compatible plugin.

mod config;
mod controller;
mod listener;
mod process;
mod stdio;

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use plugin_core::{
    GRPC_HEALTH_SERVICE, HandshakeLine, Negotiation, Protocol, ReattachAddr, ReattachConfig,
    VersionList, env,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

pub use config::{DEFAULT_MAX_MESSAGE_SIZE, ServeConfig, ServeTestConfig};
pub use listener::Listen;
pub use process::serve_mux;
use process::{check_cookie, install_panic_hook, spawn_signal_handlers, watch_parent};

use crate::error::ServeError;
use crate::logging;
use crate::plugin::{PluginSet, ServiceRegistry, VersionedPlugins};
use crate::proto::grpc_controller_server::GrpcControllerServer;
use crate::proto::grpc_stdio_server::GrpcStdioServer;
use crate::tls::{Certificate, ServerTls};
use crate::transport::dispatch::MessageLimits;
use crate::transport::io::BoxedIo;

/// How long in-flight calls may take to finish after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Serves the plugins until the host asks the plugin to stop.
///
/// Outside test mode this takes over the process as go-plugin's `Serve` does: without the
/// magic cookie it explains on stderr that the binary is a plugin and exits with status 1;
/// it prints the handshake line as the first bytes on stdout, then captures stdout and stderr
/// for the host, ignores SIGINT, and returns after `Shutdown`, SIGTERM, or the host's death.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let ServeConfig {
        handshake,
        plugins,
        listen,
        tls,
        mut test,
        logging: install_logging,
        max_message_size,
    } = config;
    let in_test = test.is_some();
    if !in_test {
        check_cookie(&handshake);
    }
    let capture_stdio = test.as_ref().is_none_or(|t| t.sync_stdio);
    if capture_stdio {
        // Logs keep going to the real stderr once fd 2 is captured for the host.
        let fd = stdio::dup_fd(2).map_err(|source| ServeError::Io {
            context: "duplicating stderr",
            source,
        })?;
        logging::set_log_file(File::from(fd));
    }
    if install_logging {
        logging::try_init();
    }
    if !in_test {
        install_panic_hook();
    }

    let (version, set) = negotiate(&plugins)?;
    let limits = MessageLimits {
        max_decode: max_message_size,
        max_encode: max_message_size,
    };
    let mut registry = ServiceRegistry::new(limits);
    for (_, plugin) in set.iter() {
        plugin.grpc_server(&mut registry)?;
    }

    let listener = Arc::new(listener::listen(listen).await?);
    let address = listener.address().map_err(|source| ServeError::Io {
        context: "reading the listener's address",
        source,
    })?;
    let (server_tls, server_cert) = server_tls(tls)?;

    let handshake_out = if in_test {
        None
    } else {
        Some(File::from(stdio::dup_fd(1).map_err(|source| {
            ServeError::Io {
                context: "duplicating stdout",
                source,
            }
        })?))
    };
    let capture = if capture_stdio {
        Some(
            stdio::StdioCapture::start().map_err(|source| ServeError::Io {
                context: "capturing stdout and stderr",
                source,
            })?,
        )
    } else {
        None
    };

    tracing::debug!(network = %address.network, address = %address.address, "plugin address");
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Announce where we listen: the handshake line, or the reattach config in test mode.
    let mut handshake_out = handshake_out;
    let stopper = match (handshake_out.as_mut(), test.as_mut()) {
        (Some(out), _) => {
            // Signals are handled before the line is out: a host may act on it at once.
            spawn_signal_handlers(shutdown_tx.clone());
            watch_parent(shutdown_tx.clone());
            let mut line = HandshakeLine::new(
                version,
                address.network,
                address.address.clone(),
                Protocol::Grpc,
            );
            if let Some(der) = server_cert {
                line = line.with_server_cert(der);
            }
            if std::env::var_os(env::MULTIPLEX_GRPC).is_some_and(|v| !v.is_empty()) {
                // Broker multiplexing is not implemented yet: say so, and the host reports it.
                line = line.with_multiplex(false);
            }
            out.write_all(format!("{line}\n").as_bytes())
                .and_then(|()| out.flush())
                .map_err(|source| ServeError::Io {
                    context: "printing the handshake line",
                    source,
                })?;
            None
        }
        (None, Some(test)) => {
            if let Some(tx) = test.reattach.take() {
                let _ = tx.send(ReattachConfig {
                    protocol: Protocol::Grpc,
                    protocol_version: version,
                    addr: ReattachAddr {
                        network: address.network,
                        address: address.address.clone(),
                    },
                    pid: std::process::id(),
                    test: true,
                });
            }
            let stop = std::mem::replace(&mut test.stop, Box::pin(async {}));
            let trigger = shutdown_tx.clone();
            Some(tokio::spawn(async move {
                stop.await;
                let _ = trigger.send(true);
            }))
        }
        (None, None) => {
            return Err(ServeError::Server(
                "no handshake output outside test mode".into(),
            ));
        }
    };
    let result = serve_until_shutdown(
        listener,
        server_tls,
        registry,
        capture,
        shutdown_tx,
        shutdown_rx,
    )
    .await;
    if let Some(stopper) = stopper {
        stopper.abort();
    }
    // The handshake's stdout stayed open until now: the host drains it until the process ends.
    drop(handshake_out);
    result
}

fn negotiate(plugins: &VersionedPlugins) -> Result<(u32, &PluginSet), ServeError> {
    let host = std::env::var(env::PROTOCOL_VERSIONS).ok().map(|raw| {
        let (list, invalid) = VersionList::parse(&raw);
        for entry in invalid {
            logging::write_log_line(
                format!("server sent invalid plugin version {entry:?}\n").as_bytes(),
            );
        }
        list
    });
    let ours: VersionList = plugins.keys().copied().collect();
    let chosen = Negotiation::choose(host.as_ref(), &ours).ok_or(ServeError::NoPlugins)?;
    if !chosen.common && host.is_some() {
        tracing::warn!(
            plugin_versions = %ours,
            host_versions = %host.as_ref().map(ToString::to_string).unwrap_or_default(),
            "no protocol version in common with the host; offering the lowest, the host will refuse it"
        );
    }
    let set = plugins.get(&chosen.version).ok_or(ServeError::NoPlugins)?;
    if set.is_empty() {
        return Err(ServeError::NoPlugins);
    }
    Ok((chosen.version, set))
}

/// Manual TLS wins over AutoMTLS; AutoMTLS only when the host sent its certificate.
fn server_tls(
    manual: Option<rustls::ServerConfig>,
) -> Result<(Option<ServerTls>, Option<Vec<u8>>), ServeError> {
    if let Some(config) = manual {
        return Ok((Some(ServerTls::manual(config)), None));
    }
    let Some(pem) = std::env::var(env::CLIENT_CERT)
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return Ok((None, None));
    };
    let host_cert =
        crate::tls::parse_pem_certificate(&pem).map_err(|e| ServeError::Tls(e.to_string()))?;
    let own = Certificate::generate().map_err(|e| ServeError::Tls(e.to_string()))?;
    let tls = ServerTls::auto(&own, host_cert).map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok((Some(tls), Some(own.der().to_vec())))
}

async fn serve_until_shutdown(
    listener: Arc<listener::Listener>,
    tls: Option<ServerTls>,
    registry: ServiceRegistry,
    capture: Option<Arc<stdio::StdioCapture>>,
    shutdown_tx: watch::Sender<bool>,
    mut shutdown_rx: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(GRPC_HEALTH_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    let mut routes = registry.into_routes();
    routes
        .add_service(health)
        .add_service(GrpcControllerServer::new(controller::Controller {
            shutdown: shutdown_tx,
        }))
        .add_service(GrpcStdioServer::new(stdio::StdioService {
            capture: capture.clone(),
        }));

    let (conn_tx, conn_rx) = mpsc::channel::<std::io::Result<BoxedIo>>(16);
    let accept = tokio::spawn(accept_loop(listener.clone(), tls, conn_tx));
    let mut stop_rx = shutdown_rx.clone();
    let stop = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
        if let Some(capture) = &capture {
            capture.finish();
        }
    };
    use crate::transport::channel::{CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW};
    let server = tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), stop);
    // Long-lived streams (the host's stdio and broker streams) may never end on their own.
    let result = tokio::select! {
        result = server => result.map_err(|e| ServeError::Server(e.to_string())),
        _ = async {
            let _ = shutdown_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    };
    accept.abort();
    let _ = accept.await;
    drop(listener);
    tracing::debug!("plugin server stopped");
    result
}

async fn accept_loop(
    listener: Arc<listener::Listener>,
    tls: Option<ServerTls>,
    conns: mpsc::Sender<std::io::Result<BoxedIo>>,
) {
    loop {
        let io = match listener.accept().await {
            Ok(io) => io,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match &tls {
            None => {
                if conns.send(Ok(io)).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                // Handshakes run beside the accept loop, so a stalled stranger blocks no one.
                let tls = tls.clone();
                let conns = conns.clone();
                tokio::spawn(async move {
                    match tls.accept(io).await {
                        Ok(stream) => {
                            let _ = conns.send(Ok(BoxedIo::new(stream))).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "refused a connection: TLS handshake failed");
                        }
                    }
                });
            }
        }
    }
}
