//! Writes the output: the trait itself (made `async_trait`, `Send + Sync + 'static`), then the
//! client, the server and the plugin registration, one file each. Items users name are emitted
//! next to the trait; the rest goes into one `const _: () = { ... };` block.

mod bounds;
mod client;
mod fallback;
mod plugin;
mod server;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::{Item, ItemTrait, TraitItem};

use crate::model::Interface;
use crate::parse;
use crate::validate::{self, Errors};

/// The generated names of an interface `Greeter`.
pub struct Names {
    pub trait_: Ident,
    /// `GreeterClient`.
    pub client: Ident,
    /// `GreeterServer`.
    pub server: Ident,
    /// `GreeterPlugin`.
    pub plugin: Ident,
}

impl Names {
    fn new(trait_: &Ident) -> Self {
        // They take the trait's span: "go to definition" on `GreeterClient` lands on the trait.
        Names {
            trait_: trait_.clone(),
            client: format_ident!("{}Client", trait_),
            server: format_ident!("{}Server", trait_),
            plugin: format_ident!("{}Plugin", trait_),
        }
    }
}

/// Items for the user's module and items for the anonymous `const` block.
#[derive(Default)]
pub struct Output {
    pub public: TokenStream,
    pub hidden: TokenStream,
}

/// The hidden module of `plugin_runtime` that all generated code names.
pub fn rt() -> TokenStream {
    quote!(::plugin_runtime::__private)
}

/// The whole macro: parse, model, validate, expand; on any error, the trait and stubs of the
/// generated items plus the errors, so the user sees those errors and nothing else.
pub fn plugin_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_trait = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Trait(t)) => t,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                first_tokens(&other),
                "#[plugin_interface] goes on a trait: `pub trait Greeter { async fn greet(&self, \
                 name: String) -> Result<String, GreetError>; }`",
            );
            return fallback::unparsed(item, error);
        }
        Err(error) => return fallback::unparsed(item, error),
    };
    let errors = Errors::default();
    let options = parse::trait_options(attr, &errors);
    let interface = Interface::from_syn(&item_trait, &options, &errors);
    validate::check(&interface, &errors);
    match errors.finish() {
        Ok(()) => expand(&interface),
        Err(error) => fallback::expand(&item_trait, error),
    }
}

fn expand(interface: &Interface<'_>) -> TokenStream {
    let names = Names::new(&interface.item.ident);
    let the_trait = emit_trait(interface.item, true);
    let markers = bounds::Markers::new(interface);
    let parts = [
        client::expand(interface, &names, &markers),
        server::expand(interface, &names, &markers),
        plugin::expand(interface, &names),
    ];
    let public = parts.iter().map(|p| &p.public);
    let hidden = parts.iter().map(|p| &p.hidden);
    let marker_items = &markers.items;
    quote! {
        #the_trait
        #(#public)*
        const _: () = {
            #marker_items
            #(#hidden)*
        };
    }
}

/// The user's trait with our `#[plugin(...)]` attributes removed, `Send + Sync + 'static`
/// added (so `Arc<dyn Trait>` crosses tasks) and, unless it would apply twice, `async_trait`.
fn emit_trait(item: &ItemTrait, async_trait: bool) -> TokenStream {
    let mut item = item.clone();
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item {
            f.attrs.retain(|a| !parse::is_method_attribute(a));
        }
    }
    let rt = rt();
    if item.colon_token.is_none() {
        item.colon_token = Some(Default::default());
    }
    item.supertraits
        .push(syn::parse_quote!(#rt::std::marker::Send));
    item.supertraits
        .push(syn::parse_quote!(#rt::std::marker::Sync));
    item.supertraits.push(syn::parse_quote!('static));
    if async_trait {
        quote!(#[#rt::async_trait] #item)
    } else {
        quote!(#item)
    }
}

/// Where to point "this is not a trait": the item's first tokens (`pub struct Name`).
fn first_tokens(item: &Item) -> TokenStream {
    match item {
        Item::Struct(s) => {
            let (vis, token, ident) = (&s.vis, &s.struct_token, &s.ident);
            quote!(#vis #token #ident)
        }
        Item::Enum(e) => {
            let (vis, token, ident) = (&e.vis, &e.enum_token, &e.ident);
            quote!(#vis #token #ident)
        }
        Item::Fn(f) => {
            let (vis, sig) = (&f.vis, &f.sig);
            quote!(#vis #sig)
        }
        Item::Impl(i) => {
            let (token, ty) = (&i.impl_token, &i.self_ty);
            quote!(#token #ty)
        }
        other => quote!(#other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: TokenStream, item: TokenStream) -> String {
        plugin_interface(attr, item).to_string()
    }

    #[test]
    fn a_valid_trait_expands_to_items_that_parse() {
        let out = plugin_interface(
            quote!(package = "demo"),
            quote! {
                /// Greets.
                pub trait Greeter {
                    #[plugin(name = "Hello")]
                    async fn greet(&self, name: String, times: u32) -> Result<String, E>;
                }
            },
        );
        if std::env::var_os("SHOW_EXPANSION").is_some() {
            println!("{out}");
        }
        let file: syn::File = syn::parse2(out).expect("the expansion parses");
        let names: Vec<String> = file
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Trait(t) => Some(t.ident.to_string()),
                Item::Struct(s) => Some(s.ident.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            names,
            ["Greeter", "GreeterClient", "GreeterServer", "GreeterPlugin"]
        );
        let text = quote!(#file).to_string();
        assert!(text.contains("\"/demo.Greeter/Hello\""), "{text}");
        assert!(text.contains("\"/demo.Greeter/_Fingerprint\""), "{text}");
        assert!(
            !text.contains("# [plugin"),
            "helper attributes are removed: {text}"
        );
    }

    #[test]
    fn an_invalid_trait_is_emitted_with_its_errors_and_stubs() {
        let out = expand_str(
            quote!(),
            quote! {
                pub trait Greeter {
                    fn greet(&self, name: String) -> Result<String, E>;
                    async fn count(&mut self) -> Result<u64, E>;
                }
            },
        );
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("must be async"), "{out}");
        assert!(out.contains("not `&mut self`"), "{out}");
        assert!(out.contains("trait Greeter"), "{out}");
        assert!(out.contains("struct GreeterPlugin"), "{out}");
    }

    #[test]
    fn anything_but_a_trait_is_emitted_unchanged_with_one_error() {
        let out = expand_str(
            quote!(),
            quote!(
                pub struct Greeter;
            ),
        );
        assert!(out.starts_with("pub struct Greeter ;"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    }

    #[test]
    fn options_are_checked() {
        for (attr, expected) in [
            (quote!(package = "a..b"), "not a valid package"),
            (quote!(service = "9lives"), "not a valid gRPC service name"),
            (
                quote!(package = "a", package = "b"),
                "`package` is given twice",
            ),
            (quote!(encoding = "json"), "unknown encoding"),
            (quote!(codec), "expected `=`"),
        ] {
            let out = expand_str(
                attr,
                quote!(
                    trait T {
                        async fn f(&self) -> Result<(), E>;
                    }
                ),
            );
            assert!(out.contains(expected), "{expected}: {out}");
        }
    }
}
