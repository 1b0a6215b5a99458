//! The rules an interface must follow, each reported on the user's own tokens. Every problem
//! found is reported (one error each); the expansion only runs when there is none.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, Item, ItemTrait, Signature, TraitItem, Type, TypeParamBound};

use crate::ctxt::Errors;
use crate::fingerprint;
use crate::model::{Arg, Encoding, Interface, Method, Name, Output, Shape};

/// The most arguments a serde method may take: `__private` implements its argument tuples up
/// to this size (serde's largest tuple).
pub const MAX_SERDE_ARGS: usize = 16;

/// The error for an item that is not a trait.
pub fn not_a_trait(item: &Item) -> syn::Error {
    syn::Error::new_spanned(
        first_tokens(item),
        "#[plugin_interface] goes on a trait: `pub trait Greeter { async fn greet(&self, \
         name: String) -> Result<String, GreetError>; }`",
    )
}

/// Where to point "this is not a trait": the item's first tokens (`pub struct Name`).
fn first_tokens(item: &Item) -> TokenStream {
    match item {
        Item::Struct(s) => {
            let (vis, token, ident) = (&s.vis, &s.struct_token, &s.ident);
            quote::quote!(#vis #token #ident)
        }
        Item::Enum(e) => {
            let (vis, token, ident) = (&e.vis, &e.enum_token, &e.ident);
            quote::quote!(#vis #token #ident)
        }
        Item::Fn(f) => {
            let (vis, sig) = (&f.vis, &f.sig);
            quote::quote!(#vis #sig)
        }
        Item::Impl(i) => {
            let (token, ty) = (&i.impl_token, &i.self_ty);
            quote::quote!(#token #ty)
        }
        other => quote::quote!(#other),
    }
}

pub fn check(interface: &Interface<'_>, errors: &Errors) {
    let item = interface.item;
    if already_async_trait(item, errors) {
        // Its methods are no longer async fns: checking them would only repeat this error.
        return;
    }
    check_trait(item, errors);
    check_options(interface, errors);
    check_netrpc(interface, errors);
    // Wire name -> the `#[cfg]`s of the methods served under it: two methods under different
    // cfgs may share a name (one per build, like `v1`/`v2` features); rustc sees to the rest.
    let mut seen: HashMap<&str, Vec<String>> = HashMap::new();
    for method in &interface.methods {
        check_method(interface, method, errors);
        let cfgs = method
            .cfgs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let under = seen.entry(method.wire.value.as_str()).or_default();
        if under.contains(&cfgs) {
            errors.at(
                method.wire.span,
                format!(
                    "two methods are served as `{}`; give one of them another name with \
                     #[plugin(name = \"...\")]",
                    interface.path(&method.wire.value)
                ),
            );
        }
        under.push(cfgs);
    }
}

/// `#[async_trait]` must not run twice: before us, it has rewritten the methods; after us, it
/// would rewrite our output again.
fn already_async_trait(item: &ItemTrait, errors: &Errors) -> bool {
    if let Some(attr) = item.attrs.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "async_trait")
    }) {
        errors.spanned(
            attr,
            "remove this #[async_trait]: #[plugin_interface] applies it to the trait itself",
        );
        return true;
    }
    let rewritten = item.items.iter().any(|i| match i {
        TraitItem::Fn(f) => f
            .sig
            .generics
            .lifetimes()
            .any(|l| l.lifetime.ident == "async_trait"),
        _ => false,
    });
    if rewritten {
        errors.spanned(
            &item.ident,
            "#[async_trait] has already rewritten this trait: remove it, #[plugin_interface] \
             applies it to the trait itself",
        );
    }
    rewritten
}

fn check_trait(item: &ItemTrait, errors: &Errors) {
    if let Some(unsafety) = &item.unsafety {
        errors.spanned(unsafety, "a plugin interface cannot be an `unsafe trait`");
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.spanned(
            &item.generics,
            "a plugin interface cannot be generic: host and plugin must agree on concrete types",
        );
    }
    for bound in &item.supertraits {
        if !is_allowed_supertrait(bound) {
            errors.spanned(
                bound,
                "a plugin interface can only have the supertraits `Send`, `Sync` and `'static` \
                 (it gets them anyway): the generated client implements this trait alone",
            );
        }
    }
    for trait_item in &item.items {
        let what = match trait_item {
            TraitItem::Fn(_) => continue,
            TraitItem::Const(_) => {
                "associated constants are not part of a plugin API; make it a method"
            }
            TraitItem::Type(_) => {
                "associated types are not supported; name the concrete types in the methods"
            }
            _ => "a plugin interface contains `async fn` methods only",
        };
        errors.spanned(trait_item, what);
    }
}

pub fn is_allowed_supertrait(bound: &TypeParamBound) -> bool {
    match bound {
        TypeParamBound::Lifetime(l) => l.ident == "static",
        TypeParamBound::Trait(t) => {
            matches!(t.modifier, syn::TraitBoundModifier::None)
                && t.lifetimes.is_none()
                && t.path.segments.last().is_some_and(|s| {
                    s.arguments.is_empty() && (s.ident == "Send" || s.ident == "Sync")
                })
        }
        _ => false,
    }
}

fn check_options(interface: &Interface<'_>, errors: &Errors) {
    if let (Encoding::Protobuf, Some(codec)) = (interface.encoding, interface.codec) {
        errors.spanned(
            codec,
            "`codec` applies to serde interfaces only: protobuf messages are encoded as protobuf",
        );
    }
    let package = &interface.package;
    if !package.value.split('.').all(is_identifier) {
        errors.at(
            package.span,
            format!(
                "{:?} is not a valid package: use identifiers separated by dots, like \"my.plugins\"",
                package.value
            ),
        );
    }
    check_name(&interface.service, "service", errors);
}

/// net/rpc carries one gob value each way: serde types, one argument at most, no streams and
/// no callbacks (go-plugin's net/rpc plugins pass those through the MuxBroker by hand).
fn check_netrpc(interface: &Interface<'_>, errors: &Errors) {
    let Some(netrpc) = &interface.netrpc else {
        return;
    };
    if interface.encoding == Encoding::Protobuf {
        errors.spanned(
            netrpc.path,
            "`netrpc` needs a serde interface: net/rpc sends gob values, not protobuf messages; \
             write a second, serde trait for the net/rpc version (or implement \
             `Plugin::netrpc_server`/`netrpc_client` by hand)",
        );
    }
    if !is_identifier(&netrpc.service.value) {
        errors.at(
            netrpc.service.span,
            format!(
                "{:?} is not a valid net/rpc service name: use letters, digits and `_`, not \
                 starting with a digit (go-plugin serves dispensed plugins as \"Plugin\")",
                netrpc.service.value
            ),
        );
    }
    for method in &interface.methods {
        if let Some(extra) = method.args.get(1) {
            errors.spanned(
                extra.typed,
                "a net/rpc method takes one argument (Go's `func (T) M(args A, reply *R) \
                 error`); group the values in a struct",
            );
        }
        for arg in &method.args {
            if arg.callback.is_some() || arg.stream.is_some() {
                errors.spanned(
                    arg.typed,
                    "net/rpc cannot carry callbacks or streams; pass a MuxBroker id (u32) and \
                     dial it, or drop `netrpc` from this interface",
                );
            }
        }
        if let Output::Result {
            ok,
            ok_callback,
            ok_stream,
            ..
        } = &method.output
            && (ok_callback.is_some() || ok_stream.is_some())
        {
            errors.spanned(
                ok,
                "net/rpc cannot carry callbacks or streams; return a MuxBroker id (u32) and \
                 serve it, or drop `netrpc` from this interface",
            );
        }
    }
}

fn check_name(name: &Name, what: &str, errors: &Errors) {
    if !is_identifier(&name.value) {
        let why = if name.explicit {
            "use letters, digits and `_`, not starting with a digit"
        } else {
            "name it with #[plugin(name = \"...\")]"
        };
        errors.at(
            name.span,
            format!("{:?} is not a valid gRPC {what} name: {why}", name.value),
        );
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_method(interface: &Interface<'_>, method: &Method<'_>, errors: &Errors) {
    let sig = method.sig;
    check_signature(sig, errors);
    check_name(&method.wire, "method", errors);
    if interface.encoding == Encoding::Serde && method.wire.value == fingerprint::METHOD {
        errors.at(
            method.wire.span,
            format!(
                "`{}` is reserved for the interface fingerprint; choose another name",
                fingerprint::METHOD
            ),
        );
    }
    // Protobuf: one request message, and callbacks next to it; or a stream of them alone.
    let requests: Vec<&Arg<'_>> = method
        .args
        .iter()
        .filter(|a| a.callback.is_none() && a.stream.is_none())
        .collect();
    let stream_arg = method.stream_arg();
    match interface.encoding {
        Encoding::Protobuf if stream_arg.is_some() => {
            for extra in &requests {
                errors.spanned(
                    extra.typed,
                    "a protobuf method that takes a stream takes nothing else: its request \
                     messages are the stream's items (as in a .proto `rpc M(stream Req)`); put \
                     this value in the messages",
                );
            }
        }
        Encoding::Protobuf if requests.len() != 1 => match requests.get(1) {
            Some(extra) => errors.spanned(
                extra.typed,
                format!(
                    "a protobuf method takes exactly one request message (this one takes {}); \
                     put the values in one message",
                    requests.len()
                ),
            ),
            None => errors.at(
                sig.paren_token.span.join(),
                "a protobuf method takes exactly one request message; take an empty message \
                 (like google.protobuf.Empty) when there is nothing to send",
            ),
        },
        Encoding::Serde if method.args.len() > MAX_SERDE_ARGS => {
            if let Some(extra) = method.args.get(MAX_SERDE_ARGS) {
                errors.spanned(
                    extra.typed,
                    format!(
                        "a method takes at most {MAX_SERDE_ARGS} arguments; group them in a struct"
                    ),
                );
            }
        }
        _ => {}
    }
    if let (Encoding::Serde, Some((index, arg))) = (interface.encoding, stream_arg)
        && index + 1 != method.args.len()
    {
        errors.spanned(
            arg.typed,
            "the stream must be the method's last argument: the arguments before it travel \
             first, as one message, then the stream's items",
        );
    }
    for arg in &method.args {
        check_owned(arg.ty, "an argument", errors);
    }
    check_fields(interface, method, errors);
    check_streams(method, errors);
    match &method.output {
        Output::Result {
            ok,
            err,
            ok_callback,
            ..
        } => {
            check_owned(ok, "a result", errors);
            check_owned(err, "an error", errors);
            if let (Encoding::Protobuf, Some(_)) = (interface.encoding, ok_callback) {
                errors.spanned(
                    ok,
                    "a protobuf method returns one response message: to hand out an interface, \
                     serve it on the broker (`GrpcBroker::accept_and_serve`) and return its id in \
                     a `u32` field, or use a serde interface, where a method may return \
                     `Arc<dyn Trait>`",
                );
            }
        }
        Output::Other(ty) => errors.spanned(
            ty,
            "a plugin method returns `Result<T, E>` (written out, not an alias), with \
             `E: From<plugin_runtime::CallError>`: every call can fail, since the plugin runs \
             in another process",
        ),
        Output::Unit => errors.at(
            sig.paren_token.span.close(),
            format!(
                "`{}` must return `Result<T, E>` (e.g. `-> Result<(), MyError>`), with \
                 `E: From<plugin_runtime::CallError>`: every call can fail, since the plugin \
                 runs in another process",
                sig.ident
            ),
        ),
    }
}

/// `PluginStream<Item, E>`: two type arguments, `E` the method's own error type, one stream
/// argument at most, and no callbacks in the same method.
fn check_streams(method: &Method<'_>, errors: &Errors) {
    let method_err = match &method.output {
        Output::Result { err, .. } => Some(fingerprint::normalize(err)),
        _ => None,
    };
    let streams = method
        .args
        .iter()
        .filter_map(|a| a.stream)
        .chain(method.ok_stream());
    for stream in streams {
        let Some((item, err)) = stream.types else {
            errors.spanned(
                stream.ty,
                "`PluginStream` takes two type arguments, the item and the method's error type: \
                 `PluginStream<Chunk, E>` in a method returning `Result<_, E>`",
            );
            continue;
        };
        check_owned(item, "a stream's item", errors);
        if let Some(method_err) = &method_err
            && fingerprint::normalize(err) != *method_err
        {
            errors.spanned(
                err,
                format!(
                    "a stream's error type must be the method's error type, written the same: \
                     `{method_err}` (failures of the call itself arrive in the stream as \
                     `{method_err}::from(CallError)`)"
                ),
            );
        }
    }
    if let Some(second) = method.args.iter().filter(|a| a.stream.is_some()).nth(1) {
        errors.spanned(
            second.typed,
            "a method takes at most one stream: one call carries one stream each way",
        );
    }
    if method.shape() != Shape::Unary {
        let callbacks = method.args.iter().filter(|a| a.callback.is_some());
        for arg in callbacks {
            errors.spanned(
                arg.ty,
                "a streaming method cannot take callbacks (`Arc<dyn Trait>`): pass the callback \
                 in a unary method of its own",
            );
        }
    }
}

/// `#[plugin(field = "...")]`: on every callback argument of a protobuf method, on nothing
/// else, each naming a field of its own.
fn check_fields(interface: &Interface<'_>, method: &Method<'_>, errors: &Errors) {
    let mut named: HashSet<String> = HashSet::new();
    for arg in &method.args {
        match (interface.encoding, &arg.callback, &arg.field) {
            (Encoding::Serde, _, Some(_)) => errors.spanned(
                &arg.field_attr,
                "`field` applies to protobuf methods only: in a serde interface an \
                 `Arc<dyn Trait>` argument travels in the argument tuple, as its broker id",
            ),
            (Encoding::Protobuf, None, Some(_)) => errors.spanned(
                &arg.field_attr,
                "`field` goes on a callback argument (`Arc<dyn Trait>`): it names the request \
                 field that carries that callback's broker id; this argument is the request \
                 message itself",
            ),
            (Encoding::Protobuf, Some(_), None) => errors.spanned(
                arg.typed,
                "a callback of a protobuf method travels as a broker id in a `u32` field of the \
                 request message: name that field with `#[plugin(field = \"...\")]` on this \
                 argument (go-plugin's bidirectional example: `field = \"add_server\"`)",
            ),
            (Encoding::Protobuf, Some(_), Some(field)) => {
                if field_ident(field).is_none() {
                    errors.spanned(field, format!("{:?} is not a field name", field.value()));
                } else if !named.insert(field.value()) {
                    errors.spanned(
                        field,
                        format!(
                            "two callbacks name the field `{}`: each needs a field of its own",
                            field.value()
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// The Rust name of a request field written in `field = "..."` (a keyword becomes raw, as
/// prost names it).
pub fn field_ident(field: &syn::LitStr) -> Option<proc_macro2::Ident> {
    let value = field.value();
    let mut ident: proc_macro2::Ident = syn::parse_str(&value)
        .or_else(|_| syn::parse_str(&format!("r#{value}")))
        .ok()?;
    ident.set_span(field.span());
    Some(ident)
}

fn check_signature(sig: &Signature, errors: &Errors) {
    if let Some(constness) = &sig.constness {
        errors.spanned(constness, "plugin interface methods cannot be `const`");
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "plugin interface methods cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "plugin interface methods cannot have an ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "plugin interface methods cannot be variadic");
    }
    if sig.asyncness.is_none() {
        let fn_token = &sig.fn_token;
        let ident = &sig.ident;
        errors.spanned(
            quote::quote!(#fn_token #ident),
            format!(
                "plugin interface methods must be async: write `async fn {ident}`, since each \
                 call goes to another process"
            ),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            "plugin interface methods cannot be generic: the client and the server are \
             generated for concrete types",
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => {
            let problem = if receiver.colon_token.is_some() {
                Some("write the receiver as `&self`")
            } else if receiver.reference.is_none() {
                Some(
                    "methods take `&self`, not `self`: a dispensed plugin is shared \
                     (`Arc<dyn Trait>`) and is not consumed by a call",
                )
            } else if receiver.mutability.is_some() {
                Some(
                    "methods take `&self`, not `&mut self`: a dispensed plugin is shared \
                     (`Arc<dyn Trait>`) and its calls run concurrently; use interior \
                     mutability (a Mutex) in the implementation",
                )
            } else if receiver.lifetime().is_some() {
                Some("write `&self` without a lifetime")
            } else {
                None
            };
            if let Some(problem) = problem {
                errors.spanned(receiver, problem);
            }
        }
        _ => errors.at(
            sig.paren_token.span.join(),
            format!(
                "`{}` needs `&self` as its first parameter: only methods can be called on a \
                 plugin",
                sig.ident
            ),
        ),
    }
}

/// Values cross a process boundary: no borrows, no `impl Trait`, no `Self`. The trait bounds
/// (Serialize, prost::Message...) are checked by the compiler, on assertions the expansion
/// spans on these same types.
fn check_owned(ty: &Type, what: &str, errors: &Errors) {
    if let Type::Reference(reference) = ty {
        let elem = &*reference.elem;
        let owned = match elem {
            Type::Path(p) if p.path.is_ident("str") => "String".to_string(),
            Type::Path(p) if p.path.is_ident("Path") => "PathBuf".to_string(),
            Type::Slice(s) => format!("Vec<{}>", s.elem.to_token_stream()),
            other => other.to_token_stream().to_string(),
        };
        errors.spanned(
            ty,
            format!(
                "{what} of a plugin method crosses a process boundary, so it must be owned: \
                 use `{owned}` instead of a reference"
            ),
        );
        return;
    }
    let mut finder = Unowned::default();
    finder.visit_type(ty);
    if let Some((span, problem)) = finder.found {
        errors.at(
            span,
            format!("{what} of a plugin method crosses a process boundary: {problem}"),
        );
    }
}

/// The first part of a type that cannot cross processes.
#[derive(Default)]
struct Unowned {
    found: Option<(Span, &'static str)>,
}

impl Unowned {
    fn record(&mut self, span: Span, problem: &'static str) {
        if self.found.is_none() {
            self.found = Some((span, problem));
        }
    }
}

impl<'ast> Visit<'ast> for Unowned {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        self.record(
            r.and_token.span,
            "it must be owned, with no references inside",
        );
    }

    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        self.record(
            t.impl_token.span,
            "`impl Trait` cannot be encoded; use a concrete type",
        );
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if l.ident != "static" {
            self.record(l.span(), "it must be owned (`'static`), not borrow data");
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first()
            && first.ident == "Self"
        {
            self.record(
                first.ident.span(),
                "name the type instead of `Self`, which is a different type on each side",
            );
        }
        syn::visit::visit_path(self, path);
    }
}
