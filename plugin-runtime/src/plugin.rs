//! Plugins and plugin sets: what a host can dispense and what a plugin binary serves.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tonic::service::RoutesBuilder;

use crate::broker::{BrokerError, BrokerServer, GrpcBroker};
use crate::connection::GrpcConnection;
use crate::dispatch::{Dispatch, DispatchService};
use crate::error::{CallError, ServeError};
use crate::netrpc::{MuxBroker, NetRpcError, RpcClient, RpcServer};
use crate::transport::codec::MessageLimits;

/// One plugin interface, on either side of the connection (go-plugin's `GRPCPlugin`, and its
/// net/rpc `Plugin` through [`Plugin::netrpc_server`] and [`Plugin::netrpc_client`]).
///
/// `#[plugin_interface]` implements it for the `<Trait>Plugin` type it generates: on the host,
/// `<Trait>Plugin::host()` builds typed clients; in a plugin binary, `<Trait>Plugin::new(impl)`
/// registers the implementation. Implement it by hand only to serve hand-written tonic services.
///
/// A hand-written registration serving a tonic service (here the standard health service)
/// next to the generated ones:
///
/// ```
/// use plugin_runtime::{CallError, Dispensed, GrpcConnection, Plugin, ServeError, ServiceRegistry};
/// use futures::future::BoxFuture;
///
/// struct Health;
///
/// impl Plugin for Health {
///     fn interface(&self) -> &'static str {
///         "grpc.health.v1.Health"
///     }
///
///     fn grpc_client(&self, conn: GrpcConnection) -> BoxFuture<'static, Result<Dispensed, CallError>> {
///         Box::pin(async move { Ok(Dispensed::new(std::sync::Arc::new(conn))) })
///     }
///
///     fn grpc_server(&self, registry: &mut ServiceRegistry) -> Result<(), ServeError> {
///         let (_reporter, service) = tonic_health::server::health_reporter();
///         registry.add_service(service);
///         Ok(())
///     }
/// }
/// ```
pub trait Plugin: Send + Sync + 'static {
    /// The Rust interface dispensed, for error messages (`dyn my_crate::Kv`).
    fn interface(&self) -> &'static str;

    /// Host side: the typed client for this plugin over `conn`. By default the interface has
    /// none (a net/rpc-only plugin).
    fn grpc_client(
        &self,
        conn: GrpcConnection,
    ) -> BoxFuture<'static, Result<Dispensed, CallError>> {
        let _ = conn;
        let interface = self.interface();
        Box::pin(async move {
            Err(CallError::Status(tonic::Status::unimplemented(format!(
                "interface {interface} has no gRPC implementation: it can only be dispensed \
                 from a plugin speaking net/rpc"
            ))))
        })
    }

    /// Plugin side: registers this plugin's gRPC services. By default the interface has none
    /// (a net/rpc-only plugin).
    ///
    /// It runs once, before the handshake line; under [`serve_main`](crate::serve_main) also
    /// before the tokio runtime exists, so it builds services and spawns nothing (a service
    /// can start its tasks when first called). A panic here fails serving with
    /// [`ServeError::Register`] (with `panic = "abort"`, it aborts the plugin).
    fn grpc_server(&self, registry: &mut ServiceRegistry) -> Result<(), ServeError> {
        let _ = registry;
        Err(ServeError::Register {
            name: self.interface().to_string(),
            reason: "it has no gRPC implementation; serve its plugin set over net/rpc with \
                     PluginSet::protocol(Protocol::NetRpc)"
                .into(),
        })
    }

    /// Plugin side, net/rpc (go-plugin's `Plugin.Server`): the methods served as `Plugin.*`
    /// each time the host dispenses this plugin. By default the interface has none.
    fn netrpc_server(&self, broker: &MuxBroker) -> Result<RpcServer, NetRpcError> {
        let _ = broker;
        Err(NetRpcError::Unsupported {
            interface: self.interface(),
            role: "served",
        })
    }

    /// Host side, net/rpc (go-plugin's `Plugin.Client`): the typed client calling `Plugin.*`
    /// through `client`. By default the interface has none.
    fn netrpc_client(
        &self,
        client: RpcClient,
        broker: MuxBroker,
    ) -> Result<Dispensed, NetRpcError> {
        let _ = (client, broker);
        Err(NetRpcError::Unsupported {
            interface: self.interface(),
            role: "dispensed",
        })
    }
}

/// A dispensed client, typed as `Arc<dyn Trait>` inside.
///
/// ```
/// use std::sync::Arc;
/// use plugin_runtime::Dispensed;
///
/// trait Greeter: Send + Sync {}
/// struct English;
/// impl Greeter for English {}
///
/// let dispensed = Dispensed::new::<dyn Greeter>(Arc::new(English));
/// assert!(dispensed.type_name().contains("Greeter"));
/// let greeter: Arc<dyn Greeter> = dispensed.downcast::<dyn Greeter>().ok().unwrap();
/// # let _ = greeter;
/// ```
#[derive(Debug)]
pub struct Dispensed {
    value: Box<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl Dispensed {
    /// Wraps a client; `T` is the interface (`dyn Trait`).
    pub fn new<T: ?Sized + Send + Sync + 'static>(client: Arc<T>) -> Self {
        Dispensed {
            value: Box::new(client),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The interface's type name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The client as `Arc<T>`, or `self` back when it is of another interface.
    pub fn downcast<T: ?Sized + Send + Sync + 'static>(self) -> Result<Arc<T>, Self> {
        let type_name = self.type_name;
        match self.value.downcast::<Arc<T>>() {
            Ok(arc) => Ok(*arc),
            Err(value) => Err(Dispensed { value, type_name }),
        }
    }
}

/// Where a plugin registers its services while serving.
/// [`Plugin::grpc_server`] receives it; see [`Plugin`] for a hand-written registration.
#[derive(Debug)]
pub struct ServiceRegistry {
    routes: RoutesBuilder,
    native: crate::native::NativeRoutes,
    limits: MessageLimits,
    broker: Option<GrpcBroker>,
}

impl ServiceRegistry {
    pub(crate) fn new(limits: MessageLimits, broker: Option<GrpcBroker>) -> Self {
        ServiceRegistry {
            routes: RoutesBuilder::default(),
            native: crate::native::NativeRoutes::default(),
            limits,
            broker,
        }
    }

    /// The broker of the connection these services are served on, for hand-written services
    /// that broker connections (generated ones reach it through [`GrpcBroker::current`]).
    pub fn broker(&self) -> Option<&GrpcBroker> {
        self.broker.as_ref()
    }

    /// Registers an interface implementation (used by generated code).
    #[doc(hidden)]
    pub fn add_dispatch<D: Dispatch>(&mut self, dispatch: Arc<D>) -> &mut Self {
        self.native.add(dispatch.clone());
        self.routes.add_service(DispatchService::new(
            dispatch,
            self.limits,
            self.broker.clone(),
        ));
        self
    }

    /// Registers a service for the native transport only (gRPC has its own for it).
    pub(crate) fn add_native_only<D: Dispatch>(&mut self, dispatch: Arc<D>) -> &mut Self {
        self.native.add(dispatch);
        self
    }

    /// Registers a hand-written tonic service.
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.native.add_grpc_only(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// The gRPC routes, and the native lane beside them when `native` (the methods, and the
    /// broker and limits their calls run with; its connections close once `stopping` turns
    /// true and their calls are over).
    pub(crate) fn into_routes(
        self,
        native: bool,
        stopping: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> (RoutesBuilder, Option<crate::transport::serve::Sorter>) {
        let lane =
            native.then(|| crate::native::sorter(self.native, self.broker, self.limits, stopping));
        (self.routes, lane)
    }
}

/// Plugins by name (go-plugin's `PluginSet`).
///
/// ```
/// use plugin_runtime::PluginSet;
/// let set = PluginSet::new();
/// assert!(set.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct PluginSet {
    plugins: BTreeMap<String, Arc<dyn Plugin>>,
    netrpc: bool,
    /// The native transport refused for this set's version.
    grpc_only: bool,
}

impl std::fmt::Debug for PluginSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.plugins.keys()).finish()
    }
}

impl PluginSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves this set over `protocol` (gRPC by default). A plugin binary serving a version
    /// over net/rpc says so here; a host needs nothing: it follows the plugin's handshake.
    ///
    /// ```
    /// use plugin_runtime::{PluginSet, Protocol};
    /// let set = PluginSet::new().protocol(Protocol::NetRpc);
    /// assert_eq!(set.served_protocol(), Protocol::NetRpc);
    /// ```
    pub fn protocol(mut self, protocol: plugin_core::Protocol) -> Self {
        self.netrpc = protocol == plugin_core::Protocol::NetRpc;
        self
    }

    /// The protocol this set is served over.
    pub fn served_protocol(&self) -> plugin_core::Protocol {
        if self.netrpc {
            plugin_core::Protocol::NetRpc
        } else {
            plugin_core::Protocol::Grpc
        }
    }

    /// Whether this set's version may travel on the native transport between a host and a
    /// plugin of this SDK (on by default). Off, that version speaks gRPC even between two Rust
    /// processes, while other versions keep the native transport: on the plugin's side, it
    /// answers `grpc` when the host negotiates this version; on the host's, it connects over
    /// gRPC when the plugin picks this version (a plugin that offers the native transport
    /// serves gRPC too). go-plugin peers speak gRPC whatever this says.
    ///
    /// ```
    /// use plugin_runtime::{PluginSet, VersionedPlugins};
    /// let versions = VersionedPlugins::from([
    ///     (1, PluginSet::new().native_transport(false)), // an old version, gRPC only
    ///     (2, PluginSet::new()),
    /// ]);
    /// assert!(!versions[&1].offers_native());
    /// assert!(versions[&2].offers_native());
    /// ```
    pub fn native_transport(mut self, on: bool) -> Self {
        self.grpc_only = !on;
        self
    }

    /// Whether this set's version may travel on the native transport (see
    /// [`PluginSet::native_transport`]); never for a net/rpc set.
    pub fn offers_native(&self) -> bool {
        !self.netrpc && !self.grpc_only
    }

    /// Adds `plugin` under `name`, replacing any plugin of that name.
    pub fn with(mut self, name: impl Into<String>, plugin: impl Plugin) -> Self {
        self.insert(name, plugin);
        self
    }

    /// Adds `plugin` under `name`, replacing any plugin of that name.
    pub fn insert(&mut self, name: impl Into<String>, plugin: impl Plugin) {
        self.plugins.insert(name.into(), Arc::new(plugin));
    }

    /// The plugin of that name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Plugin>> {
        self.plugins.get(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.plugins.keys().cloned().collect()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Arc<dyn Plugin>)> {
        self.plugins.iter()
    }
}

/// Plugin sets by app protocol version (go-plugin's `VersionedPlugins`).
///
/// ```
/// use plugin_runtime::{PluginSet, VersionedPlugins};
/// let versions = VersionedPlugins::from([(2, PluginSet::new()), (3, PluginSet::new())]);
/// assert_eq!(versions.keys().copied().collect::<Vec<_>>(), [2, 3]);
/// ```
pub type VersionedPlugins = BTreeMap<u32, PluginSet>;

/// Typed brokering: interfaces served and dialled by broker id.
impl GrpcBroker {
    /// Serves `plugin` (an interface implementation, `<Trait>Plugin::new(imp)`, or hand-written
    /// services) under `id`, and tells the peer where to find it. Served until the returned
    /// [`BrokerServer`] is dropped or the broker closes. go-plugin sends the address once: each
    /// id is for one dial.
    #[must_use = "the server stops serving when the returned BrokerServer is dropped"]
    pub async fn accept_and_serve(
        &self,
        id: u32,
        plugin: impl Plugin,
    ) -> Result<BrokerServer, BrokerError> {
        let mut registry = ServiceRegistry::new(self.limits(), Some(self.clone()));
        plugin
            .grpc_server(&mut registry)
            .map_err(|source| BrokerError::Register { id, source })?;
        let (routes, native) = registry.into_routes(self.native(), None);
        self.serve_routes(id, (routes.routes(), native)).await
    }

    /// Connects to what the peer serves under `id`, waiting up to 5 s for it to be announced
    /// (go-plugin's `Dial`). Use it with a generated client (`<Trait>Client::new(conn)`) or a
    /// hand-written tonic one (`conn.channel()`).
    pub async fn dial(&self, id: u32) -> Result<GrpcConnection, BrokerError> {
        if self.native() {
            // A peer of this SDK: generated clients' calls travel natively; HTTP/2 is opened
            // for a hand-written tonic client only.
            let (native, address) = self.dial_native(id).await?;
            let channel = self.lazy_channel(address);
            return Ok(GrpcConnection::brokered(channel, self).with_native(Some(native)));
        }
        let channel = self.dial_channel(id).await?;
        Ok(GrpcConnection::brokered(channel, self))
    }

    /// The interface the peer serves under `id`, as `Arc<T>` (`T` is `dyn Trait`), given its
    /// host-side registration (`<Trait>Plugin::host()`); serde interfaces check their
    /// fingerprint, as [`Client::dispense`](crate::Client::dispense) does.
    pub async fn dispense<T: ?Sized + Send + Sync + 'static>(
        &self,
        id: u32,
        plugin: impl Plugin,
    ) -> Result<Arc<T>, BrokerError> {
        let conn = self.dial(id).await?;
        Self::typed(id, conn, plugin).await
    }

    /// The interface `plugin` dispenses on `conn`, as `Arc<T>`.
    async fn typed<T: ?Sized + Send + Sync + 'static>(
        id: u32,
        conn: GrpcConnection,
        plugin: impl Plugin,
    ) -> Result<Arc<T>, BrokerError> {
        let dispensed = plugin.grpc_client(conn).await?;
        dispensed
            .downcast::<T>()
            .map_err(|other| BrokerError::WrongInterface {
                id,
                requested: std::any::type_name::<T>(),
                actual: other.type_name(),
            })
    }
}

impl GrpcBroker {
    /// Serves `plugin` under a fresh id for one dial: until the peer that dialled it hangs up
    /// (drops what it dialled), or nobody dials within 10 s, or the broker closes.
    pub(crate) async fn serve_for_one_dial(&self, plugin: impl Plugin) -> Result<u32, BrokerError> {
        let id = self.next_id();
        let mut registry = ServiceRegistry::new(self.limits(), Some(self.clone()));
        plugin
            .grpc_server(&mut registry)
            .map_err(|source| BrokerError::Register { id, source })?;
        let (routes, native) = registry.into_routes(self.native(), None);
        if let Some(sorter) = native {
            // A peer of this SDK dials it as a stream of the callbacks' session.
            self.serve_on_session(id, sorter);
            return Ok(id);
        }
        self.serve_routes_once(id, routes.routes()).await?;
        Ok(id)
    }

    /// The callback the peer serves under `id` (its [`serve_for_one_dial`]), on the native
    /// transport when the peer speaks it.
    ///
    /// [`serve_for_one_dial`]: GrpcBroker::serve_for_one_dial
    pub(crate) async fn dispense_callback<T: ?Sized + Send + Sync + 'static>(
        &self,
        id: u32,
        plugin: impl Plugin,
    ) -> Result<Arc<T>, BrokerError> {
        if !self.native() {
            tracing::debug!(id, "callback dialled over gRPC");
            return self.dispense(id, plugin).await;
        }
        let native = self.dial_on_session(id).await?;
        tracing::debug!(
            id,
            "callback dialled on the native transport, a stream of the callbacks' session"
        );
        Self::typed(id, GrpcConnection::brokered_native(native, self), plugin).await
    }
}
