//! The interface as the expansion sees it: names on the wire, the encoding, and each method's
//! argument and result types, borrowed from the user's trait so errors keep their spans.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::{
    Attribute, FnArg, GenericArgument, ItemTrait, LitStr, Path, PathArguments, ReturnType,
    Signature, TraitItem, Type,
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
    pub methods: Vec<Method<'a>>,
}

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
    pub args: Vec<&'a Type>,
    pub output: Output<'a>,
}

pub enum Output<'a> {
    /// `Result<T, E>`: the only shape accepted.
    Result { ok: &'a Type, err: &'a Type },
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
pub fn default_root() -> Path {
    syn::parse_quote!(::plugin_runtime)
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
                FnArg::Typed(typed) => Some(&*typed.ty),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let output = match &sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => match result_types(ty) {
                Some((ok, err)) => Output::Result { ok, err },
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

/// `T` and `E` of a type written `Result<T, E>` (any path ending in `Result`).
fn result_types(ty: &Type) -> Option<(&Type, &Type)> {
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
    let mut types = args.args.iter().map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(Some(ok)), Some(Some(err)), None) => Some((ok, err)),
        _ => None,
    }
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
