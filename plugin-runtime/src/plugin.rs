//! Plugins and plugin sets: what a host can dispense and what a plugin binary serves.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tonic::service::RoutesBuilder;

use crate::error::{CallError, ServeError};
use crate::transport::connection::GrpcConnection;
use crate::transport::dispatch::{Dispatch, DispatchService, MessageLimits};

/// One plugin interface, on either side of the connection (go-plugin's `GRPCPlugin`).
///
/// `#[plugin_interface]` implements it for the `<Trait>Plugin` type it generates: on the host,
/// `<Trait>Plugin::host()` builds typed clients; in a plugin binary, `<Trait>Plugin::new(impl)`
/// registers the implementation. Implement it by hand only to serve hand-written tonic services.
pub trait Plugin: Send + Sync + 'static {
    /// The Rust interface dispensed, for error messages (`dyn my_crate::Kv`).
    fn interface(&self) -> &'static str;

    /// Host side: the typed client for this plugin over `conn`.
    fn grpc_client(&self, conn: GrpcConnection)
    -> BoxFuture<'static, Result<Dispensed, CallError>>;

    /// Plugin side: registers this plugin's gRPC services.
    fn grpc_server(&self, registry: &mut ServiceRegistry) -> Result<(), ServeError>;
}

/// A dispensed client, typed as `Arc<dyn Trait>` inside.
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
#[derive(Debug)]
pub struct ServiceRegistry {
    routes: RoutesBuilder,
    limits: MessageLimits,
}

impl ServiceRegistry {
    pub(crate) fn new(limits: MessageLimits) -> Self {
        ServiceRegistry {
            routes: RoutesBuilder::default(),
            limits,
        }
    }

    /// Registers an interface implementation (used by generated code).
    #[doc(hidden)]
    pub fn add_dispatch<D: Dispatch>(&mut self, dispatch: Arc<D>) -> &mut Self {
        self.routes
            .add_service(DispatchService::new(dispatch, self.limits));
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
        self.routes.add_service(service);
        self
    }

    pub(crate) fn into_routes(self) -> RoutesBuilder {
        self.routes
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
pub type VersionedPlugins = BTreeMap<u32, PluginSet>;
