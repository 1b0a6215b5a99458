//! The host's side of a net/rpc plugin: the session on the plugin's socket, dispensing over
//! `Dispenser.Dispense` and the MuxBroker, `Control.Ping`, and `Control.Quit` on kill.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::config::ClientConfig;
use super::stdio;
use crate::error::{CallError, Error};
use crate::exit::ExitWatch;
use crate::netrpc::session::open_host;
use crate::netrpc::{MuxBroker, NetRpcError, RpcClient, control};
use crate::plugin::{Dispensed, Plugin};
use crate::tls::ClientTls;
use crate::transport::io::{Address, dial_secured, within};

/// A running net/rpc session with the plugin.
pub(super) struct NetRpcLink {
    pub(super) control: RpcClient,
    pub(super) broker: MuxBroker,
    exit: ExitWatch,
    plugin: String,
}

impl NetRpcLink {
    /// Dials the plugin, TLS first when `tls` is set, and starts the session.
    pub(super) async fn connect(
        name: &str,
        address: Address,
        tls: Option<Arc<ClientTls>>,
        config: &mut ClientConfig,
        exit: ExitWatch,
    ) -> Result<(NetRpcLink, JoinHandle<()>), Error> {
        let shown = address.to_string();
        let session = async {
            let io = dial_secured(&address, tls.as_deref()).await?;
            open_host(io, name, exit.clone()).await
        };
        let session = within(config.start_timeout, session)
            .await
            .map_err(|source| Error::Connect {
                plugin: name.to_string(),
                address: shown,
                source,
            })?;
        let stdio = stdio::forward_raw(session.stdout, session.stderr, config, name);
        let link = NetRpcLink {
            control: session.control,
            broker: session.broker,
            exit,
            plugin: name.to_string(),
        };
        Ok((link, stdio))
    }

    /// `Control.Ping`.
    pub(super) async fn ping(&self) -> Result<(), Error> {
        control::ping(&self.control)
            .await
            .map_err(|e| Error::Call(CallError::NetRpc(e)))
    }

    /// Dispenses `name`: the plugin serves it on a brokered stream that the typed client
    /// (built by `plugin`) calls; `owner` keeps the plugin running while the client lives.
    pub(super) async fn dispense(
        &self,
        name: &str,
        plugin: &Arc<dyn Plugin>,
        owner: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Result<Dispensed, Error> {
        let call = |e: NetRpcError| Error::Call(CallError::NetRpc(e));
        let id = control::dispense_id(&self.control, name)
            .await
            .map_err(call)?;
        let stream = self.broker.dial(id).await.map_err(call)?;
        let client =
            RpcClient::new(stream.0, &self.plugin, Some(self.exit.clone())).owned_by(owner);
        plugin
            .netrpc_client(client, self.broker.clone())
            .map_err(call)
    }

    /// `Control.Quit`, waiting at most `grace`; the plugin may be gone before it answers.
    pub(super) async fn quit(&self, grace: Duration) {
        let _ = tokio::time::timeout(grace, control::quit(&self.control)).await;
    }
}
