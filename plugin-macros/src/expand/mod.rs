//! Writes the output: the trait itself (made `async_trait`, `Send + Sync + 'static`), then the
//! client, the server and the plugin registration, one file each. Items users name are emitted
//! next to the trait; the rest goes into one `const _: () = { ... };` block.

mod bounds;
mod client;
pub mod fallback;
mod netrpc;
mod plugin;
mod server;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::{Attribute, ItemTrait, Path, TraitItem};

use crate::model::{Interface, Method};
use crate::parse;

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

/// The hidden module of `plugin_runtime` (found at `root`) that all generated code names.
pub fn rt(root: &Path) -> TokenStream {
    quote!(#root::__private)
}

/// The items of a valid interface.
pub fn expand(interface: &Interface<'_>) -> TokenStream {
    let names = Names::new(&interface.item.ident);
    let the_trait = emit_trait(interface.item, &interface.root, true);
    let markers = bounds::Markers::new(interface);
    let netrpc = netrpc::expand(interface, &names);
    let parts = [
        client::expand(interface, &names, &markers),
        server::expand(interface, &names, &markers),
        plugin::expand(interface, &names, &netrpc.plugin_methods),
    ];
    let public = parts.iter().map(|p| &p.public);
    let hidden = parts.iter().map(|p| &p.hidden);
    let marker_items = &markers.items;
    let netrpc_client = &netrpc.client;
    quote! {
        #the_trait
        #(#public)*
        const _: () = {
            #marker_items
            #(#hidden)*
            #netrpc_client
        };
    }
}

/// The user's trait with our `#[plugin(...)]` attributes (on methods and arguments) removed, `Send + Sync + 'static`
/// added (so `Arc<dyn Trait>` crosses tasks), a note on implementing it appended to its docs
/// and, unless it would apply twice, `async_trait`.
fn emit_trait(item: &ItemTrait, root: &Path, async_trait: bool) -> TokenStream {
    let mut item = item.clone();
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item {
            f.attrs.retain(|a| !parse::is_method_attribute(a));
            for input in &mut f.sig.inputs {
                if let syn::FnArg::Typed(typed) = input {
                    typed.attrs.retain(|a| !parse::is_method_attribute(a));
                }
            }
        }
    }
    // Forgetting `#[async_trait]` on an impl gives rustc's E0195 with no hint of the fix, and
    // no span of ours can change that message: the hint lives where users look, on hover and
    // in rustdoc.
    if item.attrs.iter().any(|a| a.path().is_ident("doc")) {
        item.attrs.push(syn::parse_quote!(#[doc = ""]));
    }
    let note = format!(
        "Implementations need `#[{}::async_trait]` on the `impl` block, like this trait \
         (`#[plugin_interface]` made it an `async_trait`); without it rustc reports E0195, \
         \"lifetime parameters or bounds on method do not match the trait declaration\".",
        path_text(root)
    );
    item.attrs.push(syn::parse_quote!(#[doc = #note]));
    let rt = rt(root);
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

/// `impl Brokered for dyn Trait`: `Arc<dyn Trait>` as an argument or result of another
/// interface, served through the broker with `<Trait>Plugin::from_arc`, dialled with
/// `<Trait>Plugin::host()`.
fn brokered_impl(rt: &TokenStream, trait_: &Ident, plugin: &Ident) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl #rt::Brokered for dyn #trait_ {
            type Plugin = #plugin;

            fn server(imp: #rt::Arc<Self>) -> #plugin {
                #plugin::from_arc(imp)
            }

            fn client() -> #plugin {
                #plugin::host()
            }
        }
    }
}

/// `__arg0`, `__arg1`...: a method's arguments in the generated client and server.
fn arg_idents(method: &Method<'_>) -> Vec<Ident> {
    (0..method.args.len())
        .map(|i| format_ident!("__arg{}", i))
        .collect()
}

/// `plugin_runtime` for `::plugin_runtime`: a path as users write it in an attribute.
fn path_text(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

/// `cfg!(all(...))` of a method's `#[cfg]`s, `true` without any: whether it is compiled in.
fn enabled(rt: &TokenStream, method: &Method<'_>) -> TokenStream {
    let predicates = method.cfgs.iter().filter_map(|a| cfg_predicate(a));
    quote!(#rt::std::cfg!(all(#(#predicates),*)))
}

fn cfg_predicate(attr: &Attribute) -> Option<&TokenStream> {
    match &attr.meta {
        syn::Meta::List(list) => Some(&list.tokens),
        // rustc reports a malformed `#[cfg]` on the trait itself.
        _ => None,
    }
}
