//! placeholder during development
use proc_macro::TokenStream;
#[proc_macro_attribute]
pub fn plugin_interface(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
