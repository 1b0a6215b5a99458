//! What a plugin binary serves, and how: [`ServeConfig`] and [`ServeTestConfig`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use plugin_core::{HandshakeConfig, ReattachConfig};
use tokio::sync::oneshot;

use crate::plugin::{PluginSet, VersionedPlugins};
use crate::transport::listener::Listen;

/// What a plugin binary serves and how (go-plugin's `ServeConfig`).
///
/// ```no_run
/// use plugin_runtime::{HandshakeConfig, PluginSet, ServeConfig};
/// # async fn run(plugins: PluginSet) -> Result<(), plugin_runtime::ServeError> {
/// let config = ServeConfig::new(HandshakeConfig::new(1, "BASIC_PLUGIN", "hello")).plugins(plugins);
/// plugin_runtime::serve(config).await
/// # }
/// ```
pub struct ServeConfig {
    pub(super) handshake: HandshakeConfig,
    pub(super) plugins: VersionedPlugins,
    pub(super) listen: Listen,
    pub(super) tls: Option<rustls::ServerConfig>,
    pub(super) test: Option<ServeTestConfig>,
    pub(super) logging: bool,
    pub(super) max_message_size: usize,
    pub(super) broker_tls: Option<rustls::ClientConfig>,
    pub(super) native_transport: bool,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("handshake", &self.handshake)
            .field("plugins", &self.plugins)
            .field("listen", &self.listen)
            .field("tls", &self.tls.is_some())
            .field("test", &self.test)
            .field("logging", &self.logging)
            .field("max_message_size", &self.max_message_size)
            .field("broker_tls", &self.broker_tls.is_some())
            .field("native_transport", &self.native_transport)
            .finish()
    }
}

impl ServeConfig {
    /// Default largest message a plugin accepts: 256 MiB, as Terraform's providers use (gRPC's
    /// own default, which Go plugins keep, is 4 MiB).
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

    /// A config with this handshake and no plugins yet.
    pub fn new(handshake: HandshakeConfig) -> Self {
        ServeConfig {
            handshake,
            plugins: BTreeMap::new(),
            listen: Listen::default(),
            tls: None,
            test: None,
            logging: true,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            broker_tls: None,
            native_transport: true,
        }
    }

    /// Whether to offer the native transport to a host of this SDK that asks for it (on by
    /// default; go-plugin hosts never ask). Off forces gRPC for every host.
    pub fn native_transport(mut self, on: bool) -> Self {
        self.native_transport = on;
        self
    }

    /// Serves `set` at the handshake's protocol version (go-plugin's `Plugins`): the same as
    /// `versioned_plugins(handshake.protocol_version, set)`, as on [`crate::ClientConfig`].
    pub fn plugins(self, set: PluginSet) -> Self {
        let version = self.handshake.protocol_version;
        self.versioned_plugins(version, set)
    }

    /// Serves `set` at `version` (go-plugin's `VersionedPlugins`); a later call for the same
    /// version replaces the earlier set. The host and the plugin settle on the highest version
    /// both have.
    pub fn versioned_plugins(mut self, version: u32, set: PluginSet) -> Self {
        self.plugins.insert(version, set);
        self
    }

    /// Unix socket (the default) or TCP on 127.0.0.1.
    pub fn listen(mut self, listen: Listen) -> Self {
        self.listen = listen;
        self
    }

    /// Manual TLS (go-plugin's `TLSProvider`): used instead of AutoMTLS even when the host
    /// sends a certificate. ALPN `h2` is set for you.
    pub fn tls(mut self, config: rustls::ServerConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// With manual TLS ([`ServeConfig::tls`]): the TLS this plugin dials the host's brokered
    /// servers with (go-plugin uses its one `tls.Config` in both roles; rustls has one type per
    /// role). ALPN `h2` is set for you. Not needed with AutoMTLS.
    pub fn broker_tls(mut self, config: rustls::ClientConfig) -> Self {
        self.broker_tls = Some(config);
        self
    }

    /// Test mode (go-plugin's `ServeTestConfig`): serve in-process, hand out a reattach
    /// config instead of printing a handshake.
    pub fn test(mut self, test: ServeTestConfig) -> Self {
        self.test = Some(test);
        self
    }

    /// Whether `serve` installs the hclog JSON `tracing` subscriber (default: yes).
    pub fn logging(mut self, on: bool) -> Self {
        self.logging = on;
        self
    }

    /// Largest message the plugin accepts or sends (default [`ServeConfig::DEFAULT_MAX_MESSAGE_SIZE`]).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }
}

/// In-process serving for tests (go-plugin's `ServeTestConfig`). A complete example, with an
/// interface, is on [`crate::plugin_interface`].
///
/// ```no_run
/// # use plugin_runtime::{HandshakeConfig, PluginSet, ServeConfig, ServeTestConfig};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
/// let (test, reattach) = ServeTestConfig::new(async { let _ = stop_rx.await; });
/// # let plugins = PluginSet::new();
/// let config = ServeConfig::new(HandshakeConfig::new(1, "K", "V")).plugins(plugins).test(test);
/// let server = tokio::spawn(plugin_runtime::serve(config));
/// let reattach = reattach.await.unwrap();
/// assert!(reattach.test);
/// stop_tx.send(()).unwrap();
/// server.await.unwrap().unwrap();
/// # }
/// ```
pub struct ServeTestConfig {
    pub(super) reattach: Option<oneshot::Sender<ReattachConfig>>,
    pub(super) stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    pub(super) sync_stdio: bool,
}

impl std::fmt::Debug for ServeTestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeTestConfig")
            .field("sync_stdio", &self.sync_stdio)
            .finish_non_exhaustive()
    }
}

impl ServeTestConfig {
    /// Serving ends when `stop` completes; the reattach config arrives on the receiver.
    pub fn new(
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, oneshot::Receiver<ReattachConfig>) {
        let (tx, rx) = oneshot::channel();
        (
            ServeTestConfig {
                reattach: Some(tx),
                stop: Box::pin(stop),
                sync_stdio: false,
            },
            rx,
        )
    }

    /// Capture stdout/stderr for the host's sync writers, as outside test mode (default: off).
    pub fn sync_stdio(mut self, on: bool) -> Self {
        self.sync_stdio = on;
        self
    }
}
