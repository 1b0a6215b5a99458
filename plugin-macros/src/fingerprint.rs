//! The fingerprint of a serde interface: what host and plugin must agree on for their bytes to
//! mean the same thing. It hashes the service name and, for each method, its wire name and the
//! types of its arguments, result and error, as written (normalized tokens: whitespace and
//! formatting do not count; method order does not either, since calls go by name).
//!
//! It sees the trait only: a field changed inside a struct used as an argument does not change
//! it (the codec's decode error catches most of those).

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;

use crate::model::{Interface, Output};

/// The hidden method that answers the fingerprint. Only the macro knows this name: it lists the
/// method in the server and writes its path into the client.
pub const METHOD: &str = "_Fingerprint";

/// 16 lowercase hex digits.
pub fn of(interface: &Interface<'_>) -> String {
    let mut methods: Vec<String> = interface
        .methods
        .iter()
        .map(|m| {
            let args: Vec<String> = m.args.iter().map(normalize).collect();
            let output = match &m.output {
                Output::Result { ok, err } => format!("{} ! {}", normalize(ok), normalize(err)),
                Output::Other(ty) => normalize(ty),
                Output::Unit => String::new(),
            };
            format!("{}({}) -> {output}", m.wire.value, args.join(", "))
        })
        .collect();
    methods.sort();
    let text = format!("{}\n{}", interface.service_name(), methods.join("\n"));
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

/// Tokens separated by single spaces, whatever their spacing in the source.
fn normalize(tokens: impl ToTokens) -> String {
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

/// FNV-1a, 64 bits: tiny, stable, and enough to tell versions of one trait apart.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::TraitOptions;
    use crate::validate::Errors;

    fn fingerprint(item: syn::ItemTrait) -> String {
        let options = TraitOptions::default();
        let errors = Errors::default();
        let interface = Interface::from_syn(&item, &options, &errors);
        assert!(errors.finish().is_ok());
        of(&interface)
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
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
        assert_eq!(a.len(), 16);
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
}
