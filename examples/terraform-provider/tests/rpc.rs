//! The provider's calls made directly, through the SDK's own client, for what Terraform
//! never sends (malformed values, a function called with the wrong arguments) and for the
//! plan rules in detail. The provider is served in-process in test mode, on a real socket.

use std::sync::Arc;

use plugin_runtime::{Client, ClientConfig, PluginSet, ServeConfig, ServeTestConfig};
use terraform_provider_rkv::proto::{
    self, DynamicValue, apply_resource_change, call_function, configure_provider, get_metadata,
    plan_resource_change, read_resource,
};
use terraform_provider_rkv::schema::RESOURCE_ATTRIBUTES;
use terraform_provider_rkv::value::{Object, Value};
use terraform_provider_rkv::{
    PLUGIN_NAME, PROTOCOL_VERSION, Provider, ProviderPlugin, RkvProvider, handshake,
};

/// A served provider, its client, and what stops the server.
struct Served {
    provider: Arc<dyn Provider>,
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), plugin_runtime::ServeError>>,
    store: tempfile::TempDir,
}

async fn serve() -> Served {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (test, reattach) = ServeTestConfig::new(async {
        let _ = stopped.await;
    });
    let config = ServeConfig::new(handshake())
        .versioned_plugins(
            PROTOCOL_VERSION,
            PluginSet::new().with(PLUGIN_NAME, ProviderPlugin::new(RkvProvider::new())),
        )
        .logging(false)
        .test(test);
    let server = tokio::spawn(plugin_runtime::serve(config));
    let client = Client::new(
        ClientConfig::new(handshake())
            .reattach(reattach.await.unwrap())
            .versioned_plugins(
                PROTOCOL_VERSION,
                PluginSet::new().with(PLUGIN_NAME, ProviderPlugin::host()),
            ),
    )
    .unwrap();
    let provider = client.dispense::<dyn Provider>(PLUGIN_NAME).await.unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut config = Object::new();
    config.set("dir", Value::String(store.path().display().to_string()));
    let configured = provider
        .configure_provider(configure_provider::Request {
            terraform_version: "test".into(),
            config: Some(config.encode(&["dir"])),
            client_capabilities: None,
        })
        .await
        .unwrap();
    assert!(configured.diagnostics.is_empty(), "{configured:?}");
    Served {
        provider,
        client,
        stop,
        server,
        store,
    }
}

impl Served {
    async fn close(self) {
        self.client.kill().await;
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

fn entry(key: Value, value: &str, version: Value) -> Object {
    let mut object = Object::new();
    let id = key.clone();
    object
        .set("key", key)
        .set("id", id)
        .set("value", Value::String(value.into()))
        .set("version", version);
    object
}

fn msgpack_string(s: &str) -> DynamicValue {
    terraform_provider_rkv::value::string(s)
}

#[tokio::test]
async fn metadata_and_functions_answer_and_bad_calls_are_function_errors() {
    let served = serve().await;
    let p = &served.provider;
    let meta = p.get_metadata(get_metadata::Request {}).await.unwrap();
    assert_eq!(meta.resources[0].type_name, "rkv_entry");
    assert_eq!(meta.data_sources[0].type_name, "rkv_entry");
    assert_eq!(meta.functions[0].name, "checksum");

    let call = |name: &str, arguments: Vec<DynamicValue>| {
        p.call_function(call_function::Request {
            name: name.into(),
            arguments,
        })
    };
    let ok = call("checksum", vec![msgpack_string("")]).await.unwrap();
    let result = terraform_provider_rkv::value::decode_string(&ok.result.unwrap()).unwrap();
    assert_eq!(
        result,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let not_a_string = DynamicValue {
        msgpack: vec![0x07],
        json: vec![],
    };
    let err = call("checksum", vec![not_a_string])
        .await
        .unwrap()
        .error
        .unwrap();
    assert_eq!(err.function_argument, Some(0));
    assert!(err.text.contains("takes a string"), "{err:?}");
    let err = call("checksum", vec![]).await.unwrap().error.unwrap();
    assert!(err.text.contains("takes 1 argument, got 0"), "{err:?}");
    let err = call("md5", vec![msgpack_string("x")])
        .await
        .unwrap()
        .error
        .unwrap();
    assert!(err.text.contains("no function \"md5\""), "{err:?}");
    served.close().await;
}

#[tokio::test]
async fn plans_follow_terraforms_rules_for_unknowns_and_replacement() {
    let served = serve().await;
    let p = &served.provider;
    let plan = |prior: Option<&Object>, proposed: &Object| {
        p.plan_resource_change(plan_resource_change::Request {
            type_name: "rkv_entry".into(),
            prior_state: Some(prior.map_or_else(terraform_provider_rkv::value::null, |o| {
                o.encode(RESOURCE_ATTRIBUTES)
            })),
            proposed_new_state: Some(proposed.encode(RESOURCE_ATTRIBUTES)),
            config: Some(proposed.encode(RESOURCE_ATTRIBUTES)),
            prior_private: b"kept".to_vec(),
            ..Default::default()
        })
    };
    let planned = |r: &plan_resource_change::Response| {
        Object::decode(r.planned_state.as_ref()).unwrap().unwrap()
    };
    let prior = entry(Value::String("k".into()), "v", Value::Number(3));

    // Unchanged: the computed values stay as they were.
    let same = plan(Some(&prior), &prior).await.unwrap();
    assert_eq!(planned(&same), prior);
    assert!(same.requires_replace.is_empty());
    assert_eq!(same.planned_private, b"kept");

    // A new value: the version becomes unknown, the id stays.
    let changed = plan(
        Some(&prior),
        &entry(Value::String("k".into()), "w", Value::Number(3)),
    )
    .await
    .unwrap();
    assert_eq!(planned(&changed).get("version"), &Value::Unknown);
    assert_eq!(planned(&changed).get("id"), &Value::String("k".into()));
    assert!(changed.requires_replace.is_empty());

    // A key known only at apply: replacement, with an unknown id.
    let unknown_key = plan(Some(&prior), &entry(Value::Unknown, "v", Value::Number(3)))
        .await
        .unwrap();
    assert_eq!(
        unknown_key.requires_replace,
        vec![terraform_provider_rkv::diagnostics::path("key")]
    );
    assert_eq!(planned(&unknown_key).get("id"), &Value::Unknown);
    served.close().await;
}

#[tokio::test]
async fn what_terraform_would_never_send_is_refused_with_a_diagnostic() {
    let served = serve().await;
    let p = &served.provider;
    let malformed = DynamicValue {
        msgpack: vec![0x81, 0xa1],
        json: vec![],
    };
    let read = p
        .read_resource(read_resource::Request {
            type_name: "rkv_entry".into(),
            current_state: Some(malformed),
            ..Default::default()
        })
        .await
        .unwrap();
    let error = &read.diagnostics[0];
    assert_eq!(error.severity, proto::diagnostic::Severity::Error as i32);
    assert!(
        error.summary.contains("Malformed state from Terraform"),
        "{error:?}"
    );
    assert!(error.detail.contains("not valid msgpack"), "{error:?}");

    // A key that skipped validation still never names a file outside the store.
    let bad = entry(Value::String("../escape".into()), "v", Value::Unknown);
    let applied = p
        .apply_resource_change(apply_resource_change::Request {
            type_name: "rkv_entry".into(),
            prior_state: Some(terraform_provider_rkv::value::null()),
            planned_state: Some(bad.encode(RESOURCE_ATTRIBUTES)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        applied.diagnostics[0].summary.contains("Invalid key"),
        "{applied:?}"
    );
    assert!(
        !served
            .store
            .path()
            .parent()
            .unwrap()
            .join("escape")
            .exists()
    );
    served.close().await;
}
