//! One marker type per type that crosses the wire, tied to the user's type by a `__private`
//! trait whose associated type carries the bounds (`Serialize + DeserializeOwned + ...`,
//! `prost::Message`, `From<CallError>`...). A type that misses a bound fails exactly one
//! `impl`, and the error is spanned on the user's own type (as axum's `debug_handler` does);
//! the generated calls go through the markers, so they add no second error. An `Arc<dyn Trait>`
//! (a callback) gets a `CallbackType` marker instead, whose `Type` is `dyn Trait`: a trait that
//! is not a `#[plugin_interface]` fails its `Brokered` bound there. A `PluginStream<Item, E>`
//! is marked as its `Item`, which is what travels.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::Attribute;
use syn::ext::IdentExt as _;

use super::rt;
use crate::model::{Callback, Encoding, Interface, Output, StreamType};

/// The marker types of one method.
pub struct MethodMarkers {
    /// One per argument (protobuf: the request message and the callbacks).
    pub args: Vec<Marker>,
    /// The success type (protobuf: the response message).
    pub ok: Marker,
    pub err: Ident,
}

/// The marker of one argument or success type.
pub struct Marker {
    pub ident: Ident,
    /// Whether it is an `Arc<dyn Trait>`, marked with `CallbackType` (else `SerdeType` or
    /// `ProstType`).
    pub callback: bool,
    /// Whether it is a `PluginStream<Item, E>`, marked as its `Item`.
    pub stream: bool,
}

impl Marker {
    /// Its slot in `__private::Slots`: the marker, or `Callback<marker>`.
    pub fn slot(&self, rt: &TokenStream) -> TokenStream {
        let ident = &self.ident;
        if self.callback {
            quote!(#rt::Callback<#ident>)
        } else {
            quote!(#ident)
        }
    }
}

impl MethodMarkers {
    /// The argument markers as one tuple type: the arguments travel as one tuple (a stream
    /// travels after it, item by item).
    pub fn args_tuple(&self) -> TokenStream {
        let args = self.args.iter().filter(|m| !m.stream).map(|m| &m.ident);
        quote!((#(#args,)*))
    }

    /// The arguments' slots as one tuple type, for a serde method that passes interfaces.
    pub fn slots(&self, rt: &TokenStream) -> TokenStream {
        let slots = self.args.iter().map(|m| m.slot(rt));
        quote!((#(#slots,)*))
    }

    /// The callback arguments' slots as one tuple type, for a protobuf method.
    pub fn callback_slots(&self, rt: &TokenStream) -> TokenStream {
        let slots = self.args.iter().filter(|m| m.callback).map(|m| m.slot(rt));
        quote!((#(#slots,)*))
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
        let callback_trait = quote!(#rt::CallbackType);
        // A value's marker, or for an `Arc<dyn Trait>` a callback's, whose `Type` is the trait
        // object (`dyn Trait`, on the user's tokens).
        // A stream's marker is its item's.
        let mut typed =
            |name: Ident,
             cfgs: &[&Attribute],
             bound: &TokenStream,
             ty: &dyn ToTokens,
             callback: Option<Callback<'_>>,
             stream: Option<StreamType<'_>>| match (callback, stream) {
                (Some(Callback { object, path }), _) => {
                    let dyn_token = object.dyn_token;
                    Marker {
                        ident: marker(name, cfgs, &callback_trait, &quote!(#dyn_token #path)),
                        callback: true,
                        stream: false,
                    }
                }
                (None, Some(stream)) => Marker {
                    ident: marker(name, cfgs, bound, stream.item()),
                    callback: false,
                    stream: true,
                },
                (None, None) => Marker {
                    ident: marker(name, cfgs, bound, ty),
                    callback: false,
                    stream: false,
                },
            };
        let mut methods = Vec::new();
        for m in &interface.methods {
            let name = m.sig.ident.unraw().to_string();
            let cfgs = &m.cfgs;
            // `validate` refused every other output; `()` only keeps this total.
            let (ok, err, ok_callback, ok_stream) = match &m.output {
                Output::Result {
                    ok,
                    err,
                    ok_callback,
                    ok_stream,
                } => (quote!(#ok), quote!(#err), *ok_callback, *ok_stream),
                Output::Other(_) | Output::Unit => (quote!(()), quote!(()), None, None),
            };
            let args = m
                .args
                .iter()
                .enumerate()
                .map(|(i, arg)| {
                    let name = format_ident!("__{}_arg{}", name, i);
                    typed(name, cfgs, &value_trait, arg.ty, arg.callback, arg.stream)
                })
                .collect();
            let ok_name = format_ident!("__{}_ok", name);
            let ok = typed(ok_name, cfgs, &value_trait, &ok, ok_callback, ok_stream);
            methods.push(MethodMarkers {
                args,
                ok,
                err: typed(
                    format_ident!("__{}_err", name),
                    cfgs,
                    &error_trait,
                    &err,
                    None,
                    None,
                )
                .ident,
            });
        }
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
