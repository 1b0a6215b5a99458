//! What is emitted when the input has errors: the errors, the trait itself (so the IDE and the
//! user's impls keep working) and stubs of the generated items (so code naming them raises no
//! error of its own), as thiserror's and tokio's macros do. None of it runs: the build fails.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemTrait, Path};

use super::{Names, brokered_impl, emit_trait, rt};
use crate::{model, validate};

/// The input as it was, for input that is not a trait at all.
pub fn unparsed(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#item #error)
}

pub fn expand(item: &ItemTrait, root: &Path, error: syn::Error) -> TokenStream {
    let rt = rt(root);
    let error = error.to_compile_error();
    let user_async_trait = item.attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "async_trait")
    });
    let the_trait = emit_trait(&with_streams_repaired(item), root, !user_async_trait);
    let Names {
        client,
        server,
        plugin,
        ..
    } = Names::new(&item.ident);
    let vis = &item.vis;
    // Other interfaces may take `Arc<dyn Trait>`: they keep compiling, unless `dyn Trait`
    // itself is wrong (rustc would then report that the trait is not dyn compatible).
    let dyn_compatible = looks_dyn_compatible(item);
    let brokered = if dyn_compatible {
        let brokered = brokered_impl(&rt, &item.ident, &plugin);
        quote!(const _: () = { #brokered };)
    } else {
        TokenStream::new()
    };
    // Loose signatures on purpose: they must accept whatever the user passes, whatever is
    // wrong with the trait.
    quote! {
        #error
        #the_trait
        #brokered

        #[allow(dead_code)]
        #[derive(#rt::std::clone::Clone, #rt::std::fmt::Debug)]
        #vis struct #client {}

        #[allow(dead_code)]
        impl #client {
            pub fn new(conn: #rt::GrpcConnection) -> Self {
                let _ = conn;
                #client {}
            }
        }

        #[allow(dead_code)]
        #[derive(#rt::std::clone::Clone, #rt::std::fmt::Debug)]
        #vis struct #server {}

        #[allow(dead_code)]
        impl #server {
            pub fn new<T>(imp: T) -> Self {
                let _ = imp;
                #server {}
            }

            pub fn from_arc<T: ?Sized>(imp: #rt::Arc<T>) -> Self {
                let _ = imp;
                #server {}
            }
        }

        #[allow(dead_code)]
        #[derive(#rt::std::clone::Clone, #rt::std::fmt::Debug)]
        #vis struct #plugin {}

        #[allow(dead_code)]
        impl #plugin {
            pub const FINGERPRINT: &'static str = "";

            pub fn host() -> Self {
                #plugin {}
            }

            pub fn new<T>(imp: T) -> Self {
                let _ = imp;
                #plugin {}
            }

            pub fn from_arc<T: ?Sized>(imp: #rt::Arc<T>) -> Self {
                let _ = imp;
                #plugin {}
            }
        }

        #[automatically_derived]
        impl #rt::Plugin for #plugin {
            fn interface(&self) -> &'static str {
                ""
            }

            fn grpc_client(
                &self,
                conn: #rt::GrpcConnection,
            ) -> #rt::BoxFuture<'static, #rt::std::result::Result<#rt::Dispensed, #rt::CallError>> {
                let _ = conn;
                #rt::std::boxed::Box::pin(async { #rt::std::unreachable!("the build failed") })
            }

            fn grpc_server(
                &self,
                registry: &mut #rt::ServiceRegistry,
            ) -> #rt::std::result::Result<(), #rt::ServeError> {
                let _ = registry;
                #rt::std::result::Result::Ok(())
            }
        }
    }
}

/// The trait with each `PluginStream` that `validate` refused for its number of type arguments
/// given two (its item, or `()`, and the method's error type), so that rustc does not report the
/// same mistake a second time.
fn with_streams_repaired(item: &ItemTrait) -> ItemTrait {
    let mut item = item.clone();
    for trait_item in &mut item.items {
        let syn::TraitItem::Fn(f) = trait_item else {
            continue;
        };
        let err: syn::Type = match &f.sig.output {
            syn::ReturnType::Type(_, ty) => match model::result_types(ty) {
                Some((_, err)) => err.clone(),
                None => syn::parse_quote!(()),
            },
            syn::ReturnType::Default => syn::parse_quote!(()),
        };
        for input in &mut f.sig.inputs {
            if let syn::FnArg::Typed(typed) = input {
                repair_stream(&mut typed.ty, &err);
            }
        }
        if let syn::ReturnType::Type(_, ty) = &mut f.sig.output
            && let Some(ok) = model::result_ok_mut(ty)
        {
            repair_stream(ok, &err);
        }
    }
    item
}

fn repair_stream(ty: &mut syn::Type, err: &syn::Type) {
    if model::stream(ty).is_none_or(|s| s.types.is_some()) {
        return;
    }
    let syn::Type::Path(path) = ty else { return };
    let Some(last) = path.path.segments.last_mut() else {
        return;
    };
    let item = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    };
    let item = item.unwrap_or_else(|| syn::parse_quote!(()));
    last.arguments = syn::PathArguments::AngleBracketed(syn::parse_quote!(<#item, #err>));
}

/// Whether `dyn Trait` can be named without an error of its own: no generics, no supertraits
/// but the allowed ones, methods only, each with a receiver and no `impl Trait` or `Self` in its
/// signature. Conservative: when in doubt, the `Brokered` impl is left out.
fn looks_dyn_compatible(item: &ItemTrait) -> bool {
    item.generics.params.is_empty()
        && item.supertraits.iter().all(validate::is_allowed_supertrait)
        && item.items.iter().all(|i| match i {
            syn::TraitItem::Fn(f) => {
                let sig = &f.sig;
                let rest = sig.inputs.iter().skip(1);
                let output = &sig.output;
                let tokens = quote!(#(#rest)* #output);
                sig.generics.params.is_empty()
                    && matches!(sig.inputs.first(), Some(syn::FnArg::Receiver(_)))
                    && !mentions(tokens, &["impl", "Self"])
            }
            _ => false,
        })
}

/// Whether `tokens` contain one of the identifiers `words`, at any depth.
fn mentions(tokens: TokenStream, words: &[&str]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => words.iter().any(|w| ident == w),
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), words),
        _ => false,
    })
}
