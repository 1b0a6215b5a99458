//! `#[plugin_interface]`: a Rust trait becomes a plugin API.
//!
//! Use it through `plugin_runtime::plugin_interface`: the code it generates names
//! `::plugin_runtime::__private` only (or `<crate>::__private` with `crate = "..."`). The macro
//! reads the trait and its options (`parse`), builds a model of the interface (`model`), checks
//! it and reports every problem on the user's own tokens (`validate`), then writes the client,
//! the server and the registration (`expand`); all of them report to one collector (`ctxt`).
//! The lines the interface fingerprint hashes are written in `fingerprint`.
#![deny(missing_docs)]

mod ctxt;
mod expand;
mod fingerprint;
mod model;
mod parse;
#[cfg(test)]
mod tests;
mod validate;

use proc_macro::TokenStream;
use syn::Item;

use crate::ctxt::Errors;
use crate::expand::fallback;
use crate::model::Interface;

/// Turns a trait into a plugin API: a client for hosts, a server for plugins, and the
/// registration both put in their `PluginSet`.
///
/// ```rust,ignore
/// use plugin_runtime::CallError;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// pub enum GreetError {
///     Empty,
///     /// The call itself failed: the plugin died, the connection broke...
///     Call(String),
/// }
///
/// // Every error type receives the failures of the call itself.
/// impl From<CallError> for GreetError {
///     fn from(e: CallError) -> Self {
///         GreetError::Call(e.to_string())
///     }
/// }
///
/// #[plugin_runtime::plugin_interface]
/// pub trait Greeter {
///     /// Served as `/plugin.Greeter/Greet`.
///     async fn greet(&self, name: String, times: u32) -> Result<String, GreetError>;
///     #[plugin(name = "Count")]
///     async fn greetings_so_far(&self) -> Result<u64, GreetError>;
/// }
/// ```
///
/// # What it generates
///
/// For `pub trait Greeter`, next to the trait and with its visibility:
///
/// ```rust,ignore
/// // The trait itself, as written (doc comments kept, `#[plugin(...)]` removed), made
/// // `#[async_trait]` and given `Send + Sync + 'static`, so `Arc<dyn Greeter>` crosses tasks.
/// // Its docs gain a paragraph: implementations need `#[plugin_runtime::async_trait]`.
/// #[plugin_runtime::async_trait]
/// pub trait Greeter: Send + Sync + 'static { /* the methods */ }
///
/// /// Host side: implements `Greeter` by calling the plugin.
/// #[derive(Clone, Debug)]
/// pub struct GreeterClient { /* private */ }
/// impl GreeterClient {
///     pub fn new(conn: plugin_runtime::GrpcConnection) -> Self;
/// }
/// impl Greeter for GreeterClient { /* ... */ }
///
/// /// Plugin side: serves an implementation as the gRPC service `plugin.Greeter`.
/// #[derive(Clone)] // and Debug: `GreeterServer { service: "plugin.Greeter", .. }`
/// pub struct GreeterServer { /* private */ }
/// impl GreeterServer {
///     pub fn new(imp: impl Greeter) -> Self;
///     pub fn from_arc(imp: Arc<dyn Greeter>) -> Self;
/// }
/// // The hidden dispatch trait the runtime serves (not a public API).
/// impl plugin_runtime::__private::Dispatch for GreeterServer {
///     const SERVICE: &'static str = "plugin.Greeter";
///     const METHODS: &'static [&'static str] = &["Greet", "Count", "_Fingerprint"];
///     // With streaming methods (below), also `SHAPES` and `call_streaming`.
///     /* ... */
/// }
///
/// /// The registration, for a `PluginSet` on either side.
/// #[derive(Clone)] // and Debug: `GreeterPlugin { service: "plugin.Greeter", side: "host" }`
/// pub struct GreeterPlugin { /* private */ }
/// impl GreeterPlugin {
///     pub const FINGERPRINT: &'static str; // serde interfaces only
///     pub fn host() -> Self;                       // hosts: dispenses `Arc<dyn Greeter>`
///     pub fn new(imp: impl Greeter) -> Self;       // plugins: serves `imp`
///     pub fn from_arc(imp: Arc<dyn Greeter>) -> Self;
/// }
/// impl plugin_runtime::Plugin for GreeterPlugin { /* ... */ }
/// ```
///
/// Everything else it needs (marker types, trait impls) sits in an anonymous
/// `const _: () = { ... };` block. Every generated trait impl is `#[automatically_derived]`.
/// Among them, the one that lets other interfaces take and return `Arc<dyn Greeter>`
/// (callbacks, below):
///
/// ```rust,ignore
/// impl plugin_runtime::__private::Brokered for dyn Greeter {
///     type Plugin = GreeterPlugin;
///     fn server(imp: Arc<Self>) -> GreeterPlugin { GreeterPlugin::from_arc(imp) }
///     fn client() -> GreeterPlugin { GreeterPlugin::host() }
/// }
/// ```
///
/// # Using it
///
/// The plugin implements the trait and serves it:
///
/// ```rust,ignore
/// struct English;
///
/// #[plugin_runtime::async_trait]
/// impl Greeter for English {
///     async fn greet(&self, name: String, times: u32) -> Result<String, GreetError> {
///         if name.is_empty() {
///             return Err(GreetError::Empty);
///         }
///         Ok(vec![format!("Hello, {name}!"); times as usize].join(" "))
///     }
///     async fn greetings_so_far(&self) -> Result<u64, GreetError> {
///         Ok(0)
///     }
/// }
///
/// let handshake = HandshakeConfig::new(1, "GREETER_PLUGIN", "hello");
/// plugin_runtime::serve(
///     ServeConfig::new(handshake).plugins(PluginSet::new().with("greeter", GreeterPlugin::new(English))),
/// )
/// .await?;
/// ```
///
/// The host registers `GreeterPlugin::host()` under the same name and dispenses the trait:
///
/// ```rust,ignore
/// let client = Client::new(
///     ClientConfig::new(handshake)
///         .command(Command::new("./greeter-plugin"))
///         .plugins(PluginSet::new().with("greeter", GreeterPlugin::host())),
/// )?;
/// let greeter: Arc<dyn Greeter> = client.dispense::<dyn Greeter>("greeter").await?;
/// match greeter.greet("Ada".into(), 2).await {
///     Ok(text) => println!("{text}"),
///     Err(GreetError::Empty) => eprintln!("a name, please"),
///     Err(GreetError::Call(why)) => eprintln!("the plugin failed: {why}"),
/// }
/// client.kill().await;
/// ```
///
/// # Options
///
/// `#[plugin_interface(package = "...", service = "...", encoding = "...", codec = ...,
/// crate = "...")]`, all optional:
///
/// | option | default | meaning |
/// |---|---|---|
/// | `package = "proto"` | `"plugin"` | the gRPC package |
/// | `service = "KV"` | the trait's name | the gRPC service: methods are `/<package>.<service>/<Method>` |
/// | `encoding = "serde"` or `"protobuf"` | `"serde"` | how values travel (below) |
/// | `codec = path::To::Codec` | `plugin_runtime::Bincode` | serde only: a type implementing `plugin_runtime::Codec` |
/// | `crate = "rt"` | `"::plugin_runtime"` | the path to `plugin_runtime` in this crate, when it is renamed or re-exported |
/// | `netrpc` or `netrpc = "Service"` | off (`"Plugin"` when on) | serde only: also served and dispensed over go-plugin's net/rpc (below) |
///
/// Every path the macro generates starts at that root, so a crate that renames the dependency
/// (`rt = { package = "plugin-runtime", ... }` in `Cargo.toml`) or reaches it through a facade
/// crate's re-export names it once, as with serde's `#[serde(crate = "...")]`:
///
/// ```rust,ignore
/// extern crate plugin_runtime as rt; // or a renamed dependency
///
/// #[rt::plugin_interface(crate = "rt")]
/// pub trait Greeter {
///     async fn greet(&self, name: String) -> Result<String, GreetError>;
/// }
///
/// #[rt::async_trait]
/// impl Greeter for English { /* ... */ }
/// ```
///
/// On a method, `#[plugin(name = "Get")]` sets its name on the wire; the default is the
/// method's name in UpperCamelCase (`get_value` is `GetValue`).
///
/// A method's `#[cfg(...)]` applies to everything generated for it: where the cfg is false,
/// the method is in neither the client, the server's method list and dispatch, nor the
/// fingerprint, and its types need not exist. Two methods may share a wire name under
/// different cfgs (a `v2` feature changing one method's types, say); the fingerprint of each
/// build tells them apart.
///
/// # Methods
///
/// Every method is `async fn name(&self, ...) -> Result<T, E>`, where
/// `E: From<plugin_runtime::CallError>`: a call can always fail for reasons outside the
/// plugin's code (the process died, the connection broke, a value did not decode), and the
/// caller receives those as `E::from(CallError)`. Calls on one dispensed object may run
/// concurrently, from any number of tasks.
///
/// ## `encoding = "serde"` (the default)
///
/// For interfaces between Rust hosts and Rust plugins. Methods take any number of owned
/// arguments (up to 16); each argument, `T` and `E` must be
/// `Serialize + DeserializeOwned + Send + Sync + 'static`. The arguments travel as one tuple,
/// and the plugin answers with the whole `Result<T, E>`, both encoded with the codec: an
/// application error comes back as the same `E` value, not as a gRPC error.
///
/// For byte payloads use `plugin_runtime::ByteBuf` rather than `Vec<u8>`: serde sees a
/// `Vec<u8>` as a sequence, which codecs handle element by element (a 1 MiB round trip: ~3.8 ms
/// as `Vec<u8>`, ~0.45 ms as `ByteBuf`, on par with protobuf).
///
/// Serde interfaces have a fingerprint (`GreeterPlugin::FINGERPRINT`): a hash of the service
/// name and of each method's wire name, argument types, `T` and `E`, as written in the trait.
/// The server answers it on a hidden method `_Fingerprint`; when dispensing, the host compares
/// it with its own and fails with `CallError::FingerprintMismatch { interface, host, plugin }`
/// if they differ (`plugin` is `"none"` for a plugin that serves no fingerprint), so that a
/// host and a plugin built from different versions of the trait never decode each other's
/// bytes as something else. The fingerprint sees the trait only: a changed field inside an
/// argument's struct is caught by the codec's decode error instead.
///
/// ## `encoding = "protobuf"`
///
/// For services defined by a `.proto` file, compatible with go-plugin's Go hosts and plugins.
/// Each method takes exactly one request message and returns `Result<Response, E>`, where
/// request and response are `prost::Message + Default`, and
/// `E: From<CallError> + Into<plugin_runtime::Status>` (`Status` itself qualifies). An error
/// travels as a gRPC status with its code and message; on the host, a status from the plugin
/// arrives as `E::from(CallError::Status(status))`.
///
/// ```rust,ignore
/// #[plugin_runtime::plugin_interface(package = "proto", service = "KV", encoding = "protobuf")]
/// pub trait Kv {
///     async fn get(&self, request: GetRequest) -> Result<GetResponse, Status>;  // /proto.KV/Get
///     async fn put(&self, request: PutRequest) -> Result<Empty, Status>;        // /proto.KV/Put
/// }
/// ```
///
/// ## `netrpc`: go-plugin's net/rpc protocol
///
/// A serde interface with `netrpc` is also served and dispensed over net/rpc, go-plugin's
/// default protocol, where values are Go's gob: a plugin serves it there when its set says
/// `PluginSet::protocol(Protocol::NetRpc)`, and a host dispenses it from a plugin whose
/// handshake says `netrpc` (hosts opt in with `ClientConfig::allowed_protocols`). The same trait
/// is served over gRPC in the plugin's other versions. Each method is the net/rpc method
/// `<Service>.<WireName>` (`Plugin.Greet`: go-plugin serves a dispensed plugin as `Plugin`),
/// Go's `func (s *S) Greet(args A, reply *R) error`:
///
/// - it takes one argument at most, gob's `A` (none: a nil `interface{}` is sent, and whatever
///   arrives is skipped, as go-plugin's examples send `new(interface{})`);
/// - `T` of its `Result<T, E>` is the reply `R`; `()` answers a nil `interface{}`, go-plugin's
///   convention for no reply (`var resp interface{}`); for a Go caller that reads into `struct{}`,
///   return a field-less struct (`#[derive(Serialize, Deserialize)] struct Empty {}`) instead;
/// - the error crosses as its text: `E: Display` on the plugin's side; on the host a failed
///   call is `E::from(CallError::NetRpc(e))`, with the plugin's text in `NetRpcError::Remote`;
/// - no streams and no callbacks (pass a `MuxBroker` id instead); no fingerprint check.
///
/// Types must gob-encode to what the Go side expects: gob matches struct fields by name (use
/// `#[serde(rename = "Name")]` for Go's exported names) and has no enums.
///
/// ```rust,ignore
/// #[plugin_runtime::plugin_interface(netrpc)]
/// pub trait Greeter {
///     async fn greet(&self) -> Result<String, GreetError>; // Plugin.Greet, go-plugin's basic example
/// }
/// ```
///
/// # Streaming methods
///
/// A method may take or return a `plugin_runtime::PluginStream<Item, E>` (a boxed
/// `Stream<Item = Result<Item, E>> + Send + 'static`), recognised by its last path segment,
/// `PluginStream`, with two type arguments. `E` must be the method's own error type, written the
/// same way. Three shapes, gRPC's:
///
/// ```rust,ignore
/// use plugin_runtime::PluginStream;
///
/// #[plugin_runtime::plugin_interface]
/// pub trait Files {
///     /// Server streaming: a request, a stream of responses.
///     async fn read(&self, path: String) -> Result<PluginStream<Chunk, FileError>, FileError>;
///     /// Client streaming: a stream of requests (the last argument), one response.
///     async fn write(&self, path: String, chunks: PluginStream<Chunk, FileError>) -> Result<u64, FileError>;
///     /// Bidirectional: streams both ways.
///     async fn chat(&self, lines: PluginStream<Line, FileError>) -> Result<PluginStream<Reply, FileError>, FileError>;
/// }
/// ```
///
/// The implementation returns any stream, boxed (`Ok(Box::pin(stream))`); the host's stub
/// returns (or takes) one too. A method takes one stream at most and no callbacks
/// (`Arc<dyn Trait>`: pass them in a unary method).
///
/// ## On the wire
///
/// **Protobuf**: exactly what protoc generates for `rpc Read(ReadRequest) returns (stream
/// Chunk)`, `rpc Write(stream Chunk) returns (Summary)` and `rpc Chat(stream Line) returns
/// (stream Reply)`: each item is one message, so Go clients and servers generated from the same
/// `.proto` interoperate. A server-streaming method keeps its one request message; a method that
/// takes a stream takes nothing else. Errors end a stream, as gRPC statuses do:
///
/// - the plugin's `Err(e)` (at once, or as an item) ends the call with `e.into()` as its status;
///   the host receives it (and any failure of the call) as `E::from(CallError)`: the method's
///   `Err` at once, or the stream's last item;
/// - the host's input stream yielding `Err(e)` cancels the call (the plugin's side sees its
///   input fail and its output dropped) and the host gets `Err(e)` back: as the method's result
///   (client streaming) or as the output stream's last item (bidi).
///
/// **Serde**: server streaming sends the arguments tuple as its one request message, and each
/// response message is a whole `Result<Item, E>` encoded with the codec: errors are values, as
/// for unary methods, so an `Err` item does not end the stream (the producer decides) and
/// arrives as the same `E`. An `Err(e)` returned at once by the plugin's method is sent as a
/// single `Err(e)` item: the host sees `Ok(stream)` whose first and only item is `Err(e)`. With a
/// stream argument (it must be the last argument), the first request message is the tuple of
/// the other arguments (`()` when there are none), then each item is a `Result<Item, E>` value,
/// `Err` items included; a client-streaming method's response is a `Result<T, E>`, as a unary
/// method's. A message that does not decode reaches the host as `E::from(CallError::Codec(..))`
/// (ending the stream) and fails the call with `InvalidArgument` on the plugin's side. The
/// fingerprint counts a stream as `stream` and its item (`Read(String) -> stream Chunk !
/// FileError`), so turning a unary method into a streaming one changes it.
///
/// ## Cancellation, deadlines, flow control
///
/// - Dropping the host's output stream, or the future of a call still under way, cancels the
///   call: the plugin's output stream (and whatever it holds: a file, a producer task's sender)
///   is dropped. Dropping the plugin's input stream is likewise seen by the host as the end of
///   the call.
/// - `ClientConfig::call_timeout` bounds every call, streams included: past it the call is
///   cancelled on both sides and fails with `CallError::DeadlineExceeded` (as the method's
///   `Err`, or the stream's last item).
/// - Streams are pulled, never buffered by the generated code: an item is produced when HTTP/2
///   flow control has room for it, so a slow consumer slows the producer down (at most a
///   window's worth, a few MiB, is in flight) rather than growing a queue. To produce from
///   another task, use a bounded channel (`futures::channel::mpsc::channel(n)`).
/// - If the plugin dies mid-stream, the host's stream ends with `E::from(CallError)` saying how
///   (`PluginExited`, with the exit status), never hangs.
///
/// # Interfaces as arguments and results (callbacks)
///
/// go-plugin's bidirectional model, typed: a method may take another `#[plugin_interface]`
/// trait as `Arc<dyn Trait>` (a progress sink, an event listener, a helper the plugin calls
/// back), and a serde method may return one (a sub-object the plugin hands the host). The
/// other side receives an `Arc<dyn Trait>` too, a client whose calls travel back through the
/// broker (go-plugin's `GRPCBroker`) to the implementation.
///
/// A callback is recognised by its spelling: a type whose last path segment is `Arc` with one
/// argument, a `dyn` trait object naming one trait and optionally `Send`, `Sync` and
/// `'static` (`Arc<dyn Progress>`, `std::sync::Arc<dyn events::Sink + Send + Sync>`). That
/// trait must be a `#[plugin_interface]` trait (of either encoding); any other trait fails with
/// "`dyn Debug` must be a `#[plugin_interface]` trait to be passed between host and plugin as
/// `Arc<dyn Trait>`", on the type. `Option<Arc<dyn Trait>>`, `Vec<...>` and other wrappers are
/// not callbacks (and, not being serializable, fail as values would).
///
/// ## Serde interfaces
///
/// ```rust,ignore
/// #[plugin_runtime::plugin_interface]
/// pub trait Progress {
///     async fn report(&self, done: u32, of: u32) -> Result<(), JobError>;
/// }
///
/// #[plugin_runtime::plugin_interface]
/// pub trait Jobs {
///     /// Arguments: values and callbacks, in any order.
///     async fn start(&self, name: String, progress: Arc<dyn Progress>) -> Result<u64, JobError>;
///     /// A result: the plugin hands out an object of its own.
///     async fn job(&self, id: u64) -> Result<Arc<dyn Job>, JobError>;
/// }
/// ```
///
/// - An `Arc<dyn Trait>` argument travels as a `u32` broker id in the argument tuple. The host's
///   stub serves the implementation on the connection's broker before sending the call
///   (`send_brokered`); the plugin's dispatch dials the id after decoding the arguments and
///   before calling the implementation (`receive_brokered`), which gets a client.
/// - A success value `Result<Arc<dyn Trait>, E>` is served by the plugin's dispatch on the
///   broker of the call and its id sent in the reply; the host's stub dials it and returns the
///   client. The same holds in the other direction for calls the host serves (a callback's own
///   methods may take and return interfaces too).
/// - Failing to serve or dial is the method's error: `E::from(CallError::Broker { .. })` on the
///   calling side; on the serving side, an argument that cannot be dialled fails the call with
///   a `FailedPrecondition` status (which the caller receives as `E::from(CallError::Status)`),
///   and a result that cannot be served is replied as `Err(E::from(CallError::Broker { .. }))`.
/// - The fingerprint counts a callback as `dyn` and the trait's path as written
///   (`Start(String, dyn Progress) -> u64 ! JobError`), whatever the spelling of the `Arc`;
///   the callback's own interface is checked against its own fingerprint when it is dialled.
///
/// ## Protobuf interfaces
///
/// go-plugin's own pattern, `PutRequest.add_server`: the method keeps its one request message,
/// and each callback argument names, with `#[plugin(field = "...")]`, the `u32` field of that
/// message that carries its broker id. The wire is then that of go-plugin's bidirectional
/// example, so the other side may be written in Go:
///
/// ```rust,ignore
/// #[plugin_runtime::plugin_interface(package = "proto", service = "Counter", encoding = "protobuf")]
/// pub trait Counter {
///     async fn put(
///         &self,
///         request: PutRequest,
///         #[plugin(field = "add_server")] helper: Arc<dyn AddHelper>,
///     ) -> Result<Empty, Status>;
/// }
/// ```
///
/// The stub serves `helper` and writes its id into `request.add_server` (whatever was there is
/// overwritten) before sending; the dispatch reads `request.add_server`, dials it and passes
/// the `Arc<dyn AddHelper>` (and the request, field included) to the implementation. A field
/// that is missing or not a `u32` fails on the `field = "..."` literal. A protobuf method cannot
/// return an interface (its response is one message): serve it with
/// `GrpcBroker::accept_and_serve` and return its id in a field instead.
///
/// ## How long a callback lives
///
/// A callback is served from the moment the call sends it until the side that received it
/// drops its `Arc` (every clone of it): the dialled connection closing ends the server. The
/// receiver may keep it after the call that passed it returned (a `subscribe(sink)` then many
/// `emit(n)`), and call it concurrently from many tasks. If the receiver never dials (the call
/// failed on the way, the peer is not this macro's code), the server ends after 10 s. Everything
/// ends when the broker closes: the plugin exits or the host calls `Client::kill`; calls on a
/// callback after that fail with `E::from(CallError)`. Each call passing an `Arc` serves it
/// anew, under a fresh id, for one dial: passing the same `Arc` twice gives the receiver two
/// clients, each with its own connection.
///
/// # Compile errors
///
/// The macro refuses, with an error on the offending tokens: generic traits and methods,
/// associated types and constants, supertraits other than `Send`, `Sync` and `'static`,
/// methods that are not `async`, receivers other than `&self`, a missing receiver, borrowed or
/// `impl Trait` arguments and results, return types not written `Result<T, E>`, two methods
/// with the same wire name, unknown options, protobuf methods without exactly one request
/// message, misused streams (a `PluginStream` without exactly two type arguments, or whose error
/// type is not the method's, two streams in one method, a serde stream argument that is not
/// the last, a protobuf stream argument next to other arguments, callbacks in a streaming
/// method), and misused callbacks: a protobuf callback argument without
/// `#[plugin(field = "...")]`, a `field` on an argument that is not a callback (or in a serde
/// interface), two callbacks naming the same field, an interface returned by a protobuf method.
/// Types that lack a required trait (`Serialize`, `prost::Message`, `From<CallError>`...) fail
/// on the type as written in the trait, with a message in the interface's terms:
///
/// ```text
/// error[E0277]: `Key` must be a prost message to travel in a protobuf plugin interface
///   --> src/lib.rs:20:30
///    |
/// 20 |     async fn get(&self, key: Key) -> Result<Response, Status>;
///    |                              ^^^ not a prost message
/// ```
///
/// Likewise "`Person` cannot travel in a serde plugin interface" (it must be
/// `Serialize + DeserializeOwned + Send + Sync + 'static`), "`MyError` must implement
/// `From<plugin_runtime::CallError>`..." and, in protobuf interfaces, "`MyError` must convert
/// into `plugin_runtime::Status`...". On any error the trait is still emitted, so the rest of
/// the crate (and the IDE) keeps seeing it.
///
/// # Common mistakes
///
/// **An `impl` without `#[plugin_runtime::async_trait]`.** The trait is an `async_trait`
/// trait: its methods return boxed futures with lifetimes of their own, and an impl must be
/// rewritten the same way. Without the attribute, rustc rejects each method with
///
/// ```text
/// error[E0195]: lifetime parameters or bounds on method `greet` do not match the trait declaration
/// ```
///
/// pointing at the impl's method. The fix is the attribute on the impl block (the trait's own
/// docs say so too, on hover):
///
/// ```rust,ignore
/// #[plugin_runtime::async_trait]
/// impl Greeter for English {
///     async fn greet(&self, name: String, times: u32) -> Result<String, GreetError> { /* ... */ }
/// }
/// ```
///
/// **`#[async_trait]` on the trait.** `#[plugin_interface]` applies it already; the macro asks
/// to remove the extra one.
///
/// **A `&str` or `&[u8]` argument.** Values cross a process boundary: take `String` or
/// `Vec<u8>` (better, `plugin_runtime::ByteBuf`); the error says which owned type to use.
#[proc_macro_attribute]
pub fn plugin_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_interface(attr.into(), item.into()).into()
}

/// Parse, model, validate, expand; on any error, the trait and stubs of the generated items
/// plus the errors, so the user sees those errors and nothing else.
fn expand_interface(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item_trait = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Trait(t)) => t,
        Ok(other) => return fallback::unparsed(item, validate::not_a_trait(&other)),
        Err(error) => return fallback::unparsed(item, error),
    };
    let errors = Errors::default();
    let options = parse::trait_options(attr, &errors);
    let interface = Interface::from_syn(&item_trait, &options, &errors);
    validate::check(&interface, &errors);
    match errors.finish() {
        Ok(()) => expand::expand(&interface),
        Err(error) => fallback::expand(&item_trait, &interface.root, error),
    }
}
