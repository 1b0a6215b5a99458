//! The whole macro on token streams: what it emits for valid and invalid input.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Item;

use crate::expand_interface as plugin_interface;

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

#[test]
fn every_generated_path_goes_through_the_crate_option() {
    for encoding in ["serde", "protobuf"] {
        let out = expand_str(
            quote!(crate = "rt", encoding = #encoding),
            quote! {
                pub trait Greeter {
                    async fn greet(&self, name: Req) -> Result<Req, E>;
                }
            },
        );
        assert!(!out.contains("plugin_runtime"), "{out}");
        assert!(out.contains("rt :: __private"), "{out}");
    }
    let out = expand_str(
        quote!(crate = "not a path"),
        quote!(
            trait T {}
        ),
    );
    assert!(out.contains("`crate` takes the path"), "{out}");
}

#[test]
fn cfgs_follow_their_method_everywhere() {
    let out = expand_str(
        quote!(),
        quote! {
            pub trait Greeter {
                #[cfg(feature = "v2")]
                async fn greet(&self, name: String) -> Result<String, E>;
            }
        },
    );
    // The marker enum and its impl, the client method, the index constant, the dispatch
    // arm, the method list and the fingerprint line.
    let cfgs = out.matches("# [cfg (feature = \"v2\")]").count();
    assert_eq!(cfgs, 1 + 3 * 2 + 5, "{out}");
    assert!(out.contains("automatically_derived"), "{out}");
}

#[test]
fn callbacks_are_brokered_and_their_attributes_removed() {
    let out = expand_str(
        quote!(encoding = "protobuf"),
        quote! {
            pub trait Counter {
                async fn put(
                    &self,
                    request: PutRequest,
                    #[plugin(field = "add_server")] helper: Arc<dyn AddHelper>,
                ) -> Result<Empty, Status>;
            }
        },
    );
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("Brokered for dyn Counter"), "{out}");
    assert!(out.contains("CallbackType for __put_arg1"), "{out}");
    assert!(out.contains(". add_server"), "{out}");
    assert!(!out.contains("# [plugin"), "{out}");
}
