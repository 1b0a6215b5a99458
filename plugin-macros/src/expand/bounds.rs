//! One marker type per type that crosses the wire, tied to the user's type by a `__private`
//! trait whose associated type carries the bounds (`Serialize + DeserializeOwned + ...`,
//! `prost::Message`, `From<CallError>`...). A type that misses a bound fails exactly one
//! `impl`, and the error is spanned on the user's own type (as axum's `debug_handler` does);
//! the generated calls go through the markers, so they add no second error.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::Attribute;
use syn::ext::IdentExt as _;

use super::rt;
use crate::model::{Encoding, Interface, Output};

/// The marker types of one method.
pub struct MethodMarkers {
    /// One per argument (protobuf: the request message).
    pub args: Vec<Ident>,
    /// The success type (protobuf: the response message).
    pub ok: Ident,
    pub err: Ident,
}

impl MethodMarkers {
    /// The argument markers as one tuple type: the arguments travel as one tuple.
    pub fn args_tuple(&self) -> TokenStream {
        let args = &self.args;
        quote!((#(#args,)*))
    }
}

pub struct Markers {
    /// The codec's marker (serde interfaces).
    pub codec: Ident,
    /// In the order of `Interface::methods`.
    pub methods: Vec<MethodMarkers>,
    /// The marker types and their impls.
    pub items: TokenStream,
}

impl Markers {
    pub fn new(interface: &Interface<'_>) -> Self {
        let rt = rt(&interface.root);
        let (value_trait, error_trait) = match interface.encoding {
            Encoding::Serde => (quote!(#rt::SerdeType), quote!(#rt::SerdeError)),
            Encoding::Protobuf => (quote!(#rt::ProstType), quote!(#rt::ProstError)),
        };
        let mut items = TokenStream::new();
        // A method's markers carry its `#[cfg]`s: its types may exist only under them.
        let mut marker =
            |name: Ident, cfgs: &[&Attribute], bound: &TokenStream, ty: &dyn ToTokens| {
                items.extend(quote! {
                    #(#cfgs)*
                    #[allow(non_camel_case_types)]
                    enum #name {}
                    #(#cfgs)*
                    #[automatically_derived]
                    impl #bound for #name {
                        type Type = #ty;
                    }
                });
                name
            };
        let methods = interface
            .methods
            .iter()
            .map(|m| {
                let name = m.sig.ident.unraw().to_string();
                let cfgs = &m.cfgs;
                // `validate` refused every other output; `()` only keeps this total.
                let (ok, err) = match &m.output {
                    Output::Result { ok, err } => (quote!(#ok), quote!(#err)),
                    Output::Other(_) | Output::Unit => (quote!(()), quote!(())),
                };
                MethodMarkers {
                    args: m
                        .args
                        .iter()
                        .enumerate()
                        .map(|(i, ty)| {
                            marker(format_ident!("__{}_arg{}", name, i), cfgs, &value_trait, ty)
                        })
                        .collect(),
                    ok: marker(format_ident!("__{}_ok", name), cfgs, &value_trait, &ok),
                    err: marker(format_ident!("__{}_err", name), cfgs, &error_trait, &err),
                }
            })
            .collect();
        let codec = format_ident!("__Codec");
        if interface.encoding == Encoding::Serde {
            let path = match interface.codec {
                Some(path) => quote!(#path),
                None => quote!(#rt::Bincode),
            };
            items.extend(quote! {
                enum #codec {}
                #[automatically_derived]
                impl #rt::SerdeCodec for #codec {
                    type Codec = #path;
                }
            });
        }
        Markers {
            codec,
            methods,
            items,
        }
    }
}
