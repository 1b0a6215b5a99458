//! Reads the macro's own syntax: the options of `#[plugin_interface(...)]` on the trait and of
//! `#[plugin(...)]` on its methods and their arguments. Values are kept with their spans; what they mean is checked
//! in `validate`.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser as _;
use syn::{Attribute, LitStr, Path};

use crate::ctxt::Errors;

/// The name of the method and argument attribute, stripped from the emitted trait.
pub const METHOD_ATTRIBUTE: &str = "plugin";

/// The options written on the trait.
#[derive(Default)]
pub struct TraitOptions {
    pub package: Option<LitStr>,
    pub service: Option<LitStr>,
    pub encoding: Option<LitStr>,
    pub codec: Option<Path>,
    /// `crate = "..."`: where the generated code finds `plugin_runtime`.
    pub krate: Option<LitStr>,
    /// `netrpc` or `netrpc = "Service"`: also served and dispensed over go-plugin's net/rpc.
    pub netrpc: Option<NetRpcOption>,
}

/// `netrpc`, with the net/rpc service name when written (`netrpc = "Plugin"`).
pub struct NetRpcOption {
    pub path: Path,
    pub service: Option<LitStr>,
}

/// The options written on one method.
#[derive(Default)]
pub struct MethodOptions {
    pub name: Option<LitStr>,
}

/// The options written on one argument.
#[derive(Default)]
pub struct ArgOptions {
    /// `field = "add_server"`: the request field carrying a callback's broker id (protobuf).
    pub field: Option<LitStr>,
    /// The attribute that gave `field`, to blame when it does not belong there.
    pub field_attr: Option<Attribute>,
}

pub fn trait_options(attr: TokenStream, errors: &Errors) -> TraitOptions {
    let mut options = TraitOptions::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("package") {
            set(&mut options.package, &meta, "package", || lit_str(&meta))
        } else if meta.path.is_ident("service") {
            set(&mut options.service, &meta, "service", || lit_str(&meta))
        } else if meta.path.is_ident("encoding") {
            set(&mut options.encoding, &meta, "encoding", || lit_str(&meta))
        } else if meta.path.is_ident("codec") {
            set(&mut options.codec, &meta, "codec", || meta.value()?.parse())
        } else if meta.path.is_ident("crate") {
            set(&mut options.krate, &meta, "crate", || lit_str(&meta))
        } else if meta.path.is_ident("netrpc") {
            set(&mut options.netrpc, &meta, "netrpc", || {
                let service = if meta.input.peek(syn::Token![=]) {
                    Some(lit_str(&meta)?)
                } else {
                    None
                };
                Ok(NetRpcOption {
                    path: meta.path.clone(),
                    service,
                })
            })
        } else {
            Err(meta.error(format!(
                "unknown option `{}`; #[plugin_interface] takes `package = \"...\"`, \
                 `service = \"...\"`, `encoding = \"protobuf\" | \"serde\"`, `codec = path::To::Codec`, \
                 `netrpc` (or `netrpc = \"Plugin\"`) and `crate = \"path::to::plugin_runtime\"`",
                path_text(&meta.path)
            )))
        }
    });
    if let Err(e) = parser.parse2(attr) {
        errors.push(e);
    }
    options
}

/// Reads every `#[plugin(...)]` of a method; other attributes are the user's.
pub fn method_options(attrs: &[Attribute], errors: &Errors) -> MethodOptions {
    let mut options = MethodOptions::default();
    for attr in attrs.iter().filter(|a| is_method_attribute(a)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                set(&mut options.name, &meta, "name", || lit_str(&meta))
            } else {
                Err(meta.error(format!(
                    "unknown option `{}`; #[plugin] on a method takes `name = \"WireName\"` \
                     (and on a callback argument of a protobuf method, `field = \"...\"`)",
                    path_text(&meta.path)
                )))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    options
}

/// Reads every `#[plugin(...)]` of a method's argument.
pub fn arg_options(attrs: &[Attribute], errors: &Errors) -> ArgOptions {
    let mut options = ArgOptions::default();
    for attr in attrs.iter().filter(|a| is_method_attribute(a)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("field") {
                set(&mut options.field, &meta, "field", || lit_str(&meta))?;
                options.field_attr = Some(attr.clone());
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown option `{}`; #[plugin] on an argument takes `field = \"...\"` (the \
                     `u32` field of a protobuf request that carries a callback's broker id)",
                    path_text(&meta.path)
                )))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    options
}

pub fn is_method_attribute(attr: &Attribute) -> bool {
    attr.path().is_ident(METHOD_ATTRIBUTE)
}

fn set<T>(
    slot: &mut Option<T>,
    meta: &ParseNestedMeta<'_>,
    name: &str,
    value: impl FnOnce() -> syn::Result<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{name}` is given twice")));
    }
    *slot = Some(value()?);
    Ok(())
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse()
}

fn path_text(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}
