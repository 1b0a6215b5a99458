//! The interface as the expansion sees it: names on the wire, the encoding, and each method's
//! argument and result types, borrowed from the user's trait so errors keep their spans. An
//! argument or success type written `Arc<dyn Trait>` is a callback: it crosses as a broker id;
//! one written `PluginStream<Item, E>` is a stream, which makes the method a streaming one.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::{
    Attribute, FnArg, GenericArgument, ItemTrait, LitStr, PatType, Path, PathArguments, ReturnType,
    Signature, TraitItem, Type, TypeParamBound, TypeTraitObject,
};

use crate::ctxt::Errors;
use crate::parse::{self, TraitOptions};

/// The package of interfaces that do not name one.
pub const DEFAULT_PACKAGE: &str = "plugin";

pub struct Interface<'a> {
    pub item: &'a ItemTrait,
    /// The path to `plugin_runtime` (`crate = "..."`, by default `::plugin_runtime`).
    pub root: Path,
    /// The gRPC package (`proto` in `proto.KV`).
    pub package: Name,
    /// The gRPC service (`KV` in `proto.KV`).
    pub service: Name,
    pub encoding: Encoding,
    /// `codec = ...` as written; only serde interfaces may have one.
    pub codec: Option<&'a Path>,
    /// `netrpc`: the net/rpc service its methods are served under (`Plugin` by default, the
    /// name go-plugin serves a dispensed plugin as); `None` without the option.
    pub netrpc: Option<NetRpc<'a>>,
    pub methods: Vec<Method<'a>>,
}

/// The `netrpc` option.
pub struct NetRpc<'a> {
    /// The option as written, to blame.
    pub path: &'a Path,
    pub service: Name,
}

/// The service go-plugin serves a dispensed net/rpc plugin as.
pub const NETRPC_SERVICE: &str = "Plugin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One prost message in, one out; errors travel as gRPC statuses.
    Protobuf,
    /// Any owned serde types; the whole `Result` travels encoded with the codec.
    Serde,
}

/// A name on the wire, with the span to blame when it is wrong.
pub struct Name {
    pub value: String,
    pub span: Span,
    /// Whether the user wrote it (rather than it being derived from a Rust name).
    pub explicit: bool,
}

pub struct Method<'a> {
    pub sig: &'a Signature,
    /// The method's `#[cfg(...)]`s: everything generated for it carries them too.
    pub cfgs: Vec<&'a Attribute>,
    /// `Greet` in `/plugin.Greeter/Greet`.
    pub wire: Name,
    /// The arguments after the receiver.
    pub args: Vec<Arg<'a>>,
    pub output: Output<'a>,
}

/// How a method's messages flow: whether it takes a stream, returns one, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

/// A type written `PluginStream<Item, E>` (any path ending in `PluginStream`).
#[derive(Clone, Copy)]
pub struct StreamType<'a> {
    /// The whole type, for errors.
    pub ty: &'a Type,
    /// `Item` and `E`; `None` when not written with exactly two type arguments (refused).
    pub types: Option<(&'a Type, &'a Type)>,
}

impl<'a> StreamType<'a> {
    /// The item type (the whole type when malformed, which `validate` refuses).
    pub fn item(&self) -> &'a Type {
        self.types.map_or(self.ty, |(item, _)| item)
    }
}

pub struct Arg<'a> {
    /// `name: Type` as written, for errors.
    pub typed: &'a PatType,
    pub ty: &'a Type,
    /// `Some` for an `Arc<dyn Trait>`.
    pub callback: Option<Callback<'a>>,
    /// `Some` for a `PluginStream<Item, E>`.
    pub stream: Option<StreamType<'a>>,
    /// `#[plugin(field = "...")]`: the protobuf request field that carries its broker id.
    pub field: Option<LitStr>,
    /// The attribute that gave `field`.
    pub field_attr: Option<Attribute>,
}

/// An `Arc<dyn Trait>` (with optional `+ Send + Sync + 'static`): the interface `Trait` served
/// through the broker.
#[derive(Clone, Copy)]
pub struct Callback<'a> {
    pub object: &'a TypeTraitObject,
    /// `Trait`, as written.
    pub path: &'a Path,
}

pub enum Output<'a> {
    /// `Result<T, E>`: the only shape accepted.
    Result {
        ok: &'a Type,
        err: &'a Type,
        /// `Some` when `T` is an `Arc<dyn Trait>`.
        ok_callback: Option<Callback<'a>>,
        /// `Some` when `T` is a `PluginStream<Item, E>`.
        ok_stream: Option<StreamType<'a>>,
    },
    /// Any other return type.
    Other(&'a Type),
    /// No return type at all.
    Unit,
}

impl<'a> Interface<'a> {
    /// Reads the trait and its options; problems of syntax go to `errors`, problems of meaning
    /// are left to `validate`.
    pub fn from_syn(item: &'a ItemTrait, options: &'a TraitOptions, errors: &Errors) -> Self {
        let package = match &options.package {
            Some(lit) => Name::written(lit),
            None => Name {
                value: DEFAULT_PACKAGE.to_string(),
                span: item.ident.span(),
                explicit: false,
            },
        };
        let service = match &options.service {
            Some(lit) => Name::written(lit),
            None => Name {
                value: item.ident.unraw().to_string(),
                span: item.ident.span(),
                explicit: false,
            },
        };
        let encoding = match &options.encoding {
            None => Encoding::Serde,
            Some(lit) => match lit.value().as_str() {
                "serde" => Encoding::Serde,
                "protobuf" => Encoding::Protobuf,
                other => {
                    errors.spanned(
                        lit,
                        format!(
                            "unknown encoding {other:?}; expected \"protobuf\" (prost messages, \
                             gRPC-compatible) or \"serde\" (any serde types, Rust only; choose \
                             the format with `codec = ...`)"
                        ),
                    );
                    Encoding::Serde
                }
            },
        };
        let methods = item
            .items
            .iter()
            .filter_map(|i| match i {
                TraitItem::Fn(f) => Some(Method::from_syn(&f.sig, &f.attrs, errors)),
                _ => None,
            })
            .collect();
        Interface {
            item,
            root: root(options, errors),
            package,
            service,
            encoding,
            codec: options.codec.as_ref(),
            netrpc: options.netrpc.as_ref().map(|o| NetRpc {
                path: &o.path,
                service: match &o.service {
                    Some(lit) => Name::written(lit),
                    None => Name {
                        value: NETRPC_SERVICE.to_string(),
                        span: syn::spanned::Spanned::span(&o.path),
                        explicit: false,
                    },
                },
            }),
            methods,
        }
    }

    /// `package.Service`, the gRPC service name.
    pub fn service_name(&self) -> String {
        format!("{}.{}", self.package.value, self.service.value)
    }

    /// `/package.Service/Method`, the gRPC path of a method named `method` on the wire.
    pub fn path(&self, method: &str) -> String {
        format!("/{}/{method}", self.service_name())
    }
}

/// The default root: the crate users depend on.
/// By default the name this crate's Cargo.toml gives `plugin-runtime` (so a renamed dependency
/// needs no `crate = ...`), else `::plugin_runtime`.
pub fn default_root() -> Path {
    use proc_macro_crate::{FoundCrate, crate_name};
    match crate_name("plugin-runtime") {
        Ok(FoundCrate::Name(name)) => {
            let ident = proc_macro2::Ident::new(&name, proc_macro2::Span::call_site());
            syn::parse_quote!(::#ident)
        }
        // `Itself` is plugin-runtime's own doctests and examples: crates of their own that
        // name it `plugin_runtime` (the library itself never uses the macro).
        Ok(FoundCrate::Itself) | Err(_) => syn::parse_quote!(::plugin_runtime),
    }
}

/// `crate = "..."` as a path; the default when absent or not a path (the error is reported).
pub fn root(options: &TraitOptions, errors: &Errors) -> Path {
    let Some(lit) = &options.krate else {
        return default_root();
    };
    lit.parse().unwrap_or_else(|_| {
        errors.spanned(
            lit,
            format!(
                "`crate` takes the path to plugin_runtime as renamed in this crate, like \
                 \"my_runtime\" or \"::my_runtime\"; {:?} is not a path",
                lit.value()
            ),
        );
        default_root()
    })
}

impl<'a> Method<'a> {
    fn from_syn(sig: &'a Signature, attrs: &'a [Attribute], errors: &Errors) -> Self {
        let options = parse::method_options(attrs, errors);
        let wire = match &options.name {
            Some(lit) => Name::written(lit),
            None => Name {
                value: upper_camel(&sig.ident.unraw().to_string()),
                span: sig.ident.span(),
                explicit: false,
            },
        };
        let args = sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                FnArg::Typed(typed) => Some(Arg::from_syn(typed, errors)),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let output = match &sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => match result_types(ty) {
                Some((ok, err)) => Output::Result {
                    ok,
                    err,
                    ok_callback: callback(ok),
                    ok_stream: stream(ok),
                },
                None => Output::Other(ty),
            },
        };
        Method {
            sig,
            cfgs: attrs.iter().filter(|a| a.path().is_ident("cfg")).collect(),
            wire,
            args,
            output,
        }
    }

    /// Whether an interface crosses in this method, as an argument or as its success value.
    pub fn has_callbacks(&self) -> bool {
        self.args.iter().any(|a| a.callback.is_some())
            || matches!(
                self.output,
                Output::Result {
                    ok_callback: Some(_),
                    ..
                }
            )
    }

    /// The stream argument, if any (the first, when `validate` refuses several).
    pub fn stream_arg(&self) -> Option<(usize, &Arg<'a>)> {
        self.args
            .iter()
            .enumerate()
            .find(|(_, a)| a.stream.is_some())
    }

    /// The returned stream, if any.
    pub fn ok_stream(&self) -> Option<StreamType<'a>> {
        match self.output {
            Output::Result { ok_stream, .. } => ok_stream,
            _ => None,
        }
    }

    pub fn shape(&self) -> Shape {
        match (self.stream_arg().is_some(), self.ok_stream().is_some()) {
            (false, false) => Shape::Unary,
            (false, true) => Shape::ServerStreaming,
            (true, false) => Shape::ClientStreaming,
            (true, true) => Shape::Bidi,
        }
    }
}

impl<'a> Arg<'a> {
    fn from_syn(typed: &'a PatType, errors: &Errors) -> Self {
        let options = parse::arg_options(&typed.attrs, errors);
        Arg {
            typed,
            ty: &typed.ty,
            callback: callback(&typed.ty),
            stream: stream(&typed.ty),
            field: options.field,
            field_attr: options.field_attr,
        }
    }
}

/// The interface of a type written `Arc<dyn Trait>` (any path ending in `Arc`), the trait
/// object naming one trait and, optionally, `Send`, `Sync` and `'static`.
pub fn callback(ty: &Type) -> Option<Callback<'_>> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Arc" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut args = args.args.iter();
    let (Some(GenericArgument::Type(Type::TraitObject(object))), None) = (args.next(), args.next())
    else {
        return None;
    };
    object.dyn_token?;
    let mut traits = object.bounds.iter().filter_map(|bound| match bound {
        TypeParamBound::Trait(t) if !is_marker(&t.path) => Some(Some(&t.path)),
        TypeParamBound::Trait(_) => None,
        TypeParamBound::Lifetime(l) if l.ident == "static" => None,
        _ => Some(None),
    });
    match (traits.next(), traits.next()) {
        (Some(Some(path)), None) => Some(Callback { object, path }),
        _ => None,
    }
}

/// A type written `PluginStream<...>` (any path ending in `PluginStream`), with its item and
/// error types when it has exactly two type arguments.
pub fn stream(ty: &Type) -> Option<StreamType<'_>> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "PluginStream" {
        return None;
    }
    let types = match &last.arguments {
        PathArguments::AngleBracketed(args) => two_types(args),
        _ => None,
    };
    Some(StreamType { ty, types })
}

/// The two type arguments of `<A, B>`, if that is all there is.
fn two_types(args: &syn::AngleBracketedGenericArguments) -> Option<(&Type, &Type)> {
    let mut types = args.args.iter().map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(Some(a)), Some(Some(b)), None) => Some((a, b)),
        _ => None,
    }
}

/// `Send` or `Sync`, which every interface is anyway.
fn is_marker(path: &Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| s.arguments.is_empty() && (s.ident == "Send" || s.ident == "Sync"))
}

impl Name {
    fn written(lit: &LitStr) -> Self {
        Name {
            value: lit.value(),
            span: lit.span(),
            explicit: true,
        }
    }
}

/// `T` of a type written `Result<T, E>`, to change it.
pub fn result_ok_mut(ty: &mut Type) -> Option<&mut Type> {
    result_types(ty)?;
    let Type::Path(path) = ty else { return None };
    let PathArguments::AngleBracketed(args) = &mut path.path.segments.last_mut()?.arguments else {
        return None;
    };
    match args.args.first_mut()? {
        GenericArgument::Type(ok) => Some(ok),
        _ => None,
    }
}

/// `T` and `E` of a type written `Result<T, E>` (any path ending in `Result`).
pub fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    two_types(args)
}

/// `get_value` -> `GetValue`, the protobuf convention for method names.
pub fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_become_upper_camel_case() {
        assert_eq!(upper_camel("get"), "Get");
        assert_eq!(upper_camel("get_value"), "GetValue");
        assert_eq!(upper_camel("list_v2_items"), "ListV2Items");
        assert_eq!(upper_camel("_private"), "Private");
    }

    #[test]
    fn callbacks_are_arcs_of_one_trait_object() {
        for (ty, expected) in [
            (syn::parse_quote!(Arc<dyn Progress>), Some("Progress")),
            (
                syn::parse_quote!(std::sync::Arc<dyn events::Sink + Send + Sync + 'static>),
                Some("events :: Sink"),
            ),
            (syn::parse_quote!(Arc<dyn Send + Sync>), None),
            (syn::parse_quote!(Arc<dyn Progress + Sink>), None),
            (syn::parse_quote!(Arc<dyn Progress + 'a>), None),
            (syn::parse_quote!(Arc<Progress>), None),
            (syn::parse_quote!(Box<dyn Progress>), None),
            (syn::parse_quote!(Arc<String>), None),
        ] {
            let ty: Type = ty;
            let found = callback(&ty).map(|c| quote::ToTokens::to_token_stream(c.path).to_string());
            assert_eq!(found.as_deref(), expected, "{}", quote::quote!(#ty));
        }
    }

    #[test]
    fn streams_are_plugin_streams_of_an_item_and_an_error() {
        let ty: Type = syn::parse_quote!(plugin_runtime::PluginStream<Chunk, E>);
        let found = stream(&ty).and_then(|s| s.types);
        let text = found.map(|(i, e)| quote::quote!(#i #e).to_string());
        assert_eq!(text.as_deref(), Some("Chunk E"));
        for malformed in [
            syn::parse_quote!(PluginStream<Chunk>),
            syn::parse_quote!(PluginStream<Chunk, E, F>),
            syn::parse_quote!(PluginStream),
        ] {
            let ty: Type = malformed;
            assert!(stream(&ty).is_some_and(|s| s.types.is_none()));
        }
        let other: Type = syn::parse_quote!(Stream<Chunk, E>);
        assert!(stream(&other).is_none());
    }

    #[test]
    fn only_two_argument_results_are_results() {
        let ok: Type = syn::parse_quote!(std::result::Result<String, MyError>);
        assert!(result_types(&ok).is_some());
        for ty in [
            syn::parse_quote!(io::Result<String>),
            syn::parse_quote!(Option<String>),
            syn::parse_quote!(String),
        ] {
            let ty: Type = ty;
            assert!(result_types(&ty).is_none());
        }
    }
}
