//! The `netrpc` option: the interface also crosses go-plugin's net/rpc protocol. Each method is
//! served as `Plugin.<Method>` (Go's `func (s *Server) Method(args A, reply *R) error`): its one
//! argument is the call's arguments (none: a nil `interface{}`, as go-plugin's examples send),
//! its `Ok` value the reply, its error the error text.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ReturnType;

use super::{Names, arg_idents, rt};
use crate::model::{Interface, Method, NetRpc, Output};

/// The client (a hidden type implementing the trait) and the `Plugin` methods, or nothing
/// without the option.
pub struct NetRpcParts {
    pub client: TokenStream,
    pub plugin_methods: TokenStream,
}

pub fn expand(interface: &Interface<'_>, names: &Names) -> NetRpcParts {
    let Some(netrpc) = &interface.netrpc else {
        return NetRpcParts {
            client: quote!(),
            plugin_methods: quote!(),
        };
    };
    let root = &interface.root;
    let rt = rt(root);
    let trait_ = &names.trait_;
    let client = format_ident!("__{}NetRpcClient", trait_);
    let client_methods = interface
        .methods
        .iter()
        .map(|m| client_method(interface, netrpc, m));
    let served = interface
        .methods
        .iter()
        .map(|m| served_method(interface, netrpc, m));
    let no_impl = format!(
        "{}::host() has no implementation to serve; a plugin registers {}::new(impl)",
        names.plugin, names.plugin
    );
    let client_items = quote! {
        struct #client {
            rpc: #root::RpcClient,
        }

        #[#rt::async_trait]
        #[automatically_derived]
        impl #trait_ for #client {
            #(#client_methods)*
        }
    };
    let plugin_methods = quote! {
        fn netrpc_server(
            &self,
            _broker: &#root::MuxBroker,
        ) -> #rt::std::result::Result<#root::RpcServer, #root::NetRpcError> {
            let imp = match &self.imp {
                #rt::std::option::Option::Some(imp) => #rt::Arc::clone(imp),
                #rt::std::option::Option::None => {
                    return #rt::std::result::Result::Err(#root::NetRpcError::Remote(
                        #rt::std::string::String::from(#no_impl),
                    ));
                }
            };
            let mut server = #root::RpcServer::new();
            #(#served)*
            let _ = &imp;
            #rt::std::result::Result::Ok(server)
        }

        fn netrpc_client(
            &self,
            client: #root::RpcClient,
            _broker: #root::MuxBroker,
        ) -> #rt::std::result::Result<#root::Dispensed, #root::NetRpcError> {
            let client: #rt::Arc<dyn #trait_> = #rt::Arc::new(#client { rpc: client });
            #rt::std::result::Result::Ok(#root::Dispensed::new(client))
        }
    };
    NetRpcParts {
        client: client_items,
        plugin_methods,
    }
}

/// `Plugin.Greet`.
fn wire_name(netrpc: &NetRpc<'_>, method: &Method<'_>) -> String {
    format!("{}.{}", netrpc.service.value, method.wire.value)
}

fn client_method(
    interface: &Interface<'_>,
    netrpc: &NetRpc<'_>,
    method: &Method<'_>,
) -> TokenStream {
    let root = &interface.root;
    let rt = rt(root);
    let ident = &method.sig.ident;
    let cfgs = &method.cfgs;
    let output = match &method.sig.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    let args = arg_idents(method);
    let arg_types: Vec<_> = method.args.iter().map(|a| a.ty).collect();
    let name = wire_name(netrpc, method);
    let Output::Result { ok, err, .. } = &method.output else {
        // Refused by `validate`.
        return quote!();
    };
    let call = match (args.first(), arg_types.first()) {
        (Some(arg), Some(ty)) => quote!(self.rpc.call::<#ty, #ok>(#name, &#arg).await),
        _ => quote!(self.rpc.call_without_args::<#ok>(#name).await),
    };
    quote! {
        #(#cfgs)*
        async fn #ident(&self, #(#args: #arg_types),*) -> #output {
            #call.map_err(|e| {
                <#err as #rt::std::convert::From<#root::CallError>>::from(#root::CallError::NetRpc(e))
            })
        }
    }
}

fn served_method(
    interface: &Interface<'_>,
    netrpc: &NetRpc<'_>,
    method: &Method<'_>,
) -> TokenStream {
    let rt = rt(&interface.root);
    let ident = &method.sig.ident;
    let cfgs = &method.cfgs;
    let name = wire_name(netrpc, method);
    let register = match method.args.first() {
        Some(arg) => {
            let ty = arg.ty;
            quote! {
                server.method(#name, move |__arg0: #ty| {
                    let imp = #rt::Arc::clone(&imp);
                    async move { imp.#ident(__arg0).await }
                });
            }
        }
        None => quote! {
            server.method_without_args(#name, move || {
                let imp = #rt::Arc::clone(&imp);
                async move { imp.#ident().await }
            });
        },
    };
    quote! {
        #(#cfgs)*
        {
            let imp = #rt::Arc::clone(&imp);
            #register
        }
    }
}
