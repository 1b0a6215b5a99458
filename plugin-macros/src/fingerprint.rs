//! The fingerprint of a serde interface: what host and plugin must agree on for their bytes to
//! mean the same thing. It hashes the service name and, for each method, its wire name and the
//! types of its arguments, result and error, as written (normalized tokens: whitespace and
//! formatting do not count; method order does not either, since calls go by name).
//!
//! The macro writes one line per method; the compiler hashes them (a `const fn` in
//! `__private`), since only it knows which methods a `#[cfg]` leaves in.
//!
//! It sees the trait only: a field changed inside a struct used as an argument does not change
//! it (the codec's decode error catches most of those). A callback (`Arc<dyn Trait>`) counts as
//! `dyn` and the trait's path as written; the callback's own interface is checked when it is
//! dialled, against its own fingerprint. A stream counts as `stream` and its item type, so a
//! method turning from unary to streaming changes the fingerprint.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;

use crate::model::{Callback, Interface, Method, Output, StreamType};

/// The hidden method that answers the fingerprint. Only the macro knows this name: it lists the
/// method in the server and writes its path into the client.
pub const METHOD: &str = "_Fingerprint";

/// One line per method, sorted: `plugin_runtime::__private::fingerprint` hashes the service
/// name and the lines of the methods compiled in (FNV-1a, 64 bits, as 16 lowercase hex digits).
pub fn lines<'i, 'a>(interface: &'i Interface<'a>) -> Vec<(String, &'i Method<'a>)> {
    let mut lines: Vec<(String, &Method<'_>)> = interface
        .methods
        .iter()
        .map(|m| {
            let args: Vec<String> = m
                .args
                .iter()
                .map(|a| value(a.ty, a.callback, a.stream))
                .collect();
            let output = match &m.output {
                Output::Result {
                    ok,
                    err,
                    ok_callback,
                    ok_stream,
                } => format!(
                    "{} ! {}",
                    value(ok, *ok_callback, *ok_stream),
                    normalize(err)
                ),
                Output::Other(ty) => normalize(ty),
                Output::Unit => String::new(),
            };
            (
                format!("{}({}) -> {output}", m.wire.value, args.join(", ")),
                m,
            )
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines
}

/// A type as hashed: its tokens; for a callback `dyn` and the trait's path, however the `Arc`
/// is written (`std::sync::Arc`, `+ Send + Sync`...); for a stream `stream` and the item type,
/// however `PluginStream` is spelled (its error type is the method's, hashed once).
fn value(ty: &syn::Type, callback: Option<Callback<'_>>, stream: Option<StreamType<'_>>) -> String {
    match (callback, stream) {
        (Some(callback), _) => format!("dyn {}", normalize(callback.path)),
        (None, Some(stream)) => format!("stream {}", normalize(stream.item())),
        (None, None) => normalize(ty),
    }
}

/// Tokens separated by single spaces, whatever their spacing in the source.
pub fn normalize(tokens: impl ToTokens) -> String {
    let mut out = Vec::new();
    push_tokens(tokens.into_token_stream(), &mut out);
    out.join(" ")
}

fn push_tokens(tokens: TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    // An invisible group (from a macro_rules fragment) is just its contents.
                    Delimiter::None => ("", ""),
                };
                if !open.is_empty() {
                    out.push(open.to_string());
                }
                push_tokens(group.stream(), out);
                if !close.is_empty() {
                    out.push(close.to_string());
                }
            }
            TokenTree::Ident(ident) => out.push(ident.to_string()),
            TokenTree::Punct(punct) => out.push(punct.as_char().to_string()),
            TokenTree::Literal(lit) => out.push(lit.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Errors;
    use crate::parse::TraitOptions;

    /// What is hashed: the service name and the lines.
    fn fingerprint(item: syn::ItemTrait) -> (String, Vec<String>) {
        let options = TraitOptions::default();
        let errors = Errors::default();
        let interface = Interface::from_syn(&item, &options, &errors);
        assert!(errors.finish().is_ok());
        let lines = lines(&interface).into_iter().map(|(l, _)| l).collect();
        (interface.service_name(), lines)
    }

    #[test]
    fn formatting_and_method_order_do_not_count() {
        let a = fingerprint(syn::parse_quote! {
            trait Greeter {
                async fn greet(&self, name: String, tags: Vec<Vec<u8>>) -> Result<String, E>;
                async fn count(&self) -> Result<u64, E>;
            }
        });
        let b = fingerprint(syn::parse_quote! {
            trait Greeter {
                async fn count(&self) -> Result<u64,E>;
                async fn greet(&self, who: String, tags: Vec<Vec<u8> >)
                    -> std::result::Result<String, E>;
            }
        });
        assert_eq!(a, b);
        assert_eq!(
            a.1,
            [
                "Count() -> u64 ! E",
                "Greet(String, Vec < Vec < u8 > >) -> String ! E"
            ]
        );
    }

    #[test]
    fn types_names_and_service_count() {
        let base = fingerprint(syn::parse_quote! {
            trait Greeter { async fn greet(&self, name: String) -> Result<String, E>; }
        });
        for changed in [
            syn::parse_quote! { trait Greeter { async fn greet(&self, name: String, n: u32) -> Result<String, E>; } },
            syn::parse_quote! { trait Greeter { async fn greet(&self, name: u64) -> Result<String, E>; } },
            syn::parse_quote! { trait Greeter { async fn greet(&self, name: String) -> Result<(), E>; } },
            syn::parse_quote! { trait Greeter { async fn greet(&self, name: String) -> Result<String, F>; } },
            syn::parse_quote! { trait Greeter { async fn hello(&self, name: String) -> Result<String, E>; } },
            syn::parse_quote! { trait Welcomer { async fn greet(&self, name: String) -> Result<String, E>; } },
        ] {
            assert_ne!(base, fingerprint(changed));
        }
    }

    #[test]
    fn a_stream_counts_as_its_item_and_changes_the_shape() {
        let base = fingerprint(syn::parse_quote! {
            trait Files {
                async fn read(&self, path: String) -> Result<PluginStream<Chunk, E>, E>;
                async fn write(&self, path: String, chunks: PluginStream<Chunk, E>) -> Result<u64, E>;
            }
        });
        assert_eq!(
            base.1,
            [
                "Read(String) -> stream Chunk ! E",
                "Write(String, stream Chunk) -> u64 ! E"
            ]
        );
        let spelled_out = fingerprint(syn::parse_quote! {
            trait Files {
                async fn read(&self, path: String) -> Result<plugin_runtime::PluginStream<Chunk, E>, E>;
                async fn write(&self, path: String, chunks: rt::PluginStream<Chunk, E>) -> Result<u64, E>;
            }
        });
        assert_eq!(base, spelled_out);
        for changed in [
            syn::parse_quote! { trait Files {
                async fn read(&self, path: String) -> Result<Chunk, E>;
                async fn write(&self, path: String, chunks: PluginStream<Chunk, E>) -> Result<u64, E>;
            } },
            syn::parse_quote! { trait Files {
                async fn read(&self, path: String) -> Result<PluginStream<Chunk, E>, E>;
                async fn write(&self, path: String, chunks: Chunk) -> Result<u64, E>;
            } },
            syn::parse_quote! { trait Files {
                async fn read(&self, path: String) -> Result<PluginStream<Vec<u8>, E>, E>;
                async fn write(&self, path: String, chunks: PluginStream<Chunk, E>) -> Result<u64, E>;
            } },
        ] {
            assert_ne!(base, fingerprint(changed));
        }
    }

    #[test]
    fn a_callback_counts_as_its_trait_path() {
        let base = fingerprint(syn::parse_quote! {
            trait Jobs {
                async fn start(&self, sink: Arc<dyn Progress>) -> Result<Arc<dyn Job>, E>;
            }
        });
        assert_eq!(base.1, ["Start(dyn Progress) -> dyn Job ! E"]);
        let spelled_out = fingerprint(syn::parse_quote! {
            trait Jobs {
                async fn start(
                    &self,
                    sink: std::sync::Arc<dyn Progress + Send + Sync>,
                ) -> Result<Arc<dyn Job + Send + Sync + 'static>, E>;
            }
        });
        assert_eq!(base, spelled_out);
        for changed in [
            syn::parse_quote! { trait Jobs { async fn start(&self, sink: Arc<dyn Sink>) -> Result<Arc<dyn Job>, E>; } },
            syn::parse_quote! { trait Jobs { async fn start(&self, sink: Arc<dyn v2::Progress>) -> Result<Arc<dyn Job>, E>; } },
            syn::parse_quote! { trait Jobs { async fn start(&self, sink: Arc<dyn Progress>) -> Result<Arc<dyn Task>, E>; } },
            syn::parse_quote! { trait Jobs { async fn start(&self, sink: Arc<dyn Progress>) -> Result<u32, E>; } },
        ] {
            assert_ne!(base, fingerprint(changed));
        }
    }
}
