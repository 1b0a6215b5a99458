//! [`RkvProvider`]: the provider's behaviour, call by call: the provider-wide calls here, the
//! resource, the data source and the function in their own modules.

mod data;
mod function;
mod resource;

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use plugin_runtime::Status;
use sha2::{Digest, Sha256};

use crate::diagnostics::{error, failure, path, warning};
use crate::proto::{self, Diagnostic, DynamicValue, ServerCapabilities};
use crate::schema::{self, CHECKSUM, DATA_ATTRIBUTES, ENTRY, RESOURCE_ATTRIBUTES};
use crate::store::{Entry, Store, key_problem};
use crate::value::{self, Object, Value};
use crate::{
    Provider, apply, call_function, configure, get_functions, get_metadata, import, move_state,
    plan, read, read_data, schema_rpc, stop, upgrade, validate_data, validate_provider,
    validate_resource,
};

/// The `rkv` provider. It holds the store its provider block configured.
#[derive(Debug, Default)]
pub struct RkvProvider {
    store: RwLock<Option<Store>>,
}

/// What the provider keeps in a resource's private state: the checksum of the value it last
/// saw, to tell a change made outside Terraform apart.
#[derive(serde::Serialize, serde::Deserialize)]
struct Private {
    sha256: String,
}

impl RkvProvider {
    /// A provider not yet configured.
    pub fn new() -> Self {
        RkvProvider::default()
    }

    /// The configured store, or the diagnostic explaining it is missing.
    fn store(&self) -> Result<Store, Diagnostic> {
        // A panic elsewhere cannot leave the slot half-written: recover it from the poison.
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        store.clone().ok_or_else(|| {
            error(
                "Provider not configured",
                "the provider block's `dir` was not known when the provider was configured; \
                 set it to a directory known before apply",
                None,
            )
        })
    }
}

fn sha256_hex(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

fn private_for(value: &str) -> Vec<u8> {
    serde_json::to_vec(&Private {
        sha256: sha256_hex(value),
    })
    .unwrap_or_default()
}

/// Decodes a value of a request, or the error diagnostic saying which one was malformed.
fn decode(value: Option<&DynamicValue>, what: &str) -> Result<Option<Object>, Diagnostic> {
    Object::decode(value).map_err(|e| failure(format!("Malformed {what} from Terraform"), &e, None))
}

/// Errors for the `required` attributes `config` sets to null: Terraform itself only refuses
/// a required argument left out, not one given `null` (an expression may yield it).
fn check_required(config: &Object, required: &[&str], diagnostics: &mut Vec<Diagnostic>) {
    for name in required {
        if config.get(name) == &Value::Null {
            diagnostics.push(error(
                "Missing required argument",
                format!("`{name}` is required, but its value is null; set it to a string"),
                Some(name),
            ));
        }
    }
}

/// `key` quoted for a diagnostic's summary: a long one is cut short (its source line is
/// shown under the summary anyway).
fn quoted(key: &str) -> String {
    const SHOWN: usize = 40;
    match key.char_indices().nth(SHOWN) {
        None => format!("{key:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &key[..end], key.len()),
    }
}

/// Checks `key` when it is known; diagnostics point at `key`.
fn check_key(config: &Object, diagnostics: &mut Vec<Diagnostic>) {
    if let Value::String(key) = config.get("key")
        && let Some(problem) = key_problem(key)
    {
        diagnostics.push(error(
            format!("Invalid key {}", quoted(key)),
            problem,
            Some("key"),
        ));
    }
}

/// The state of the resource for `key` holding `entry`.
fn entry_state(key: &str, entry: &Entry) -> Object {
    let mut state = Object::new();
    state
        .set("id", Value::String(key.to_owned()))
        .set("key", Value::String(key.to_owned()))
        .set("value", Value::String(entry.value.clone()))
        .set(
            "sensitive_value",
            Value::opt_string(entry.sensitive_value.clone()),
        )
        .set("version", Value::Number(entry.version));
    state
}

fn unknown_type(type_name: &str) -> Diagnostic {
    error(
        format!("Unknown type {type_name:?}"),
        format!("this provider has only the resource and data source {ENTRY:?}"),
        None,
    )
}

fn known_string<'a>(object: &'a Object, name: &str) -> Result<&'a str, Diagnostic> {
    object.get(name).as_str().ok_or_else(|| {
        error(
            format!("`{name}` is not known"),
            format!(
                "`{name}` must be a known string here; Terraform sent {:?}",
                object.get(name)
            ),
            Some(name),
        )
    })
}

#[plugin_runtime::async_trait]
impl Provider for RkvProvider {
    async fn get_metadata(
        &self,
        _: get_metadata::Request,
    ) -> Result<get_metadata::Response, Status> {
        Ok(get_metadata::Response {
            server_capabilities: Some(ServerCapabilities::default()),
            diagnostics: vec![],
            data_sources: vec![get_metadata::DataSourceMetadata {
                type_name: ENTRY.to_owned(),
            }],
            resources: vec![get_metadata::ResourceMetadata {
                type_name: ENTRY.to_owned(),
            }],
            functions: vec![get_metadata::FunctionMetadata {
                name: CHECKSUM.to_owned(),
            }],
        })
    }

    async fn get_provider_schema(
        &self,
        _: schema_rpc::Request,
    ) -> Result<schema_rpc::Response, Status> {
        Ok(schema_rpc::Response {
            provider: Some(schema::provider()),
            resource_schemas: [(ENTRY.to_owned(), schema::resource())].into(),
            data_source_schemas: [(ENTRY.to_owned(), schema::data_source())].into(),
            functions: schema::functions(),
            server_capabilities: Some(ServerCapabilities::default()),
            ..Default::default()
        })
    }

    async fn validate_provider_config(
        &self,
        request: validate_provider::Request,
    ) -> Result<validate_provider::Response, Status> {
        let mut diagnostics = vec![];
        match decode(request.config.as_ref(), "provider configuration") {
            Err(d) => diagnostics.push(d),
            Ok(config) => {
                let config = config.unwrap_or_default();
                check_required(&config, &["dir"], &mut diagnostics);
                if config.get("dir").as_str() == Some("") {
                    diagnostics.push(error(
                        "Invalid dir",
                        "`dir` is the directory holding the entries; it cannot be empty",
                        Some("dir"),
                    ));
                }
            }
        }
        Ok(validate_provider::Response { diagnostics })
    }

    async fn validate_resource_config(
        &self,
        request: validate_resource::Request,
    ) -> Result<validate_resource::Response, Status> {
        resource::validate_resource_config(request)
    }

    async fn validate_data_resource_config(
        &self,
        request: validate_data::Request,
    ) -> Result<validate_data::Response, Status> {
        data::validate_data_resource_config(request)
    }

    async fn upgrade_resource_state(
        &self,
        request: upgrade::Request,
    ) -> Result<upgrade::Response, Status> {
        resource::upgrade_resource_state(request)
    }

    async fn configure_provider(
        &self,
        request: configure::Request,
    ) -> Result<configure::Response, Status> {
        let config = match decode(request.config.as_ref(), "provider configuration") {
            Ok(config) => config.unwrap_or_default(),
            Err(d) => {
                return Ok(configure::Response {
                    diagnostics: vec![d],
                });
            }
        };
        let dir = match config.get("dir") {
            Value::String(dir) => dir,
            // Unknown until apply: resources will say so when they need the store.
            Value::Unknown => {
                return Ok(configure::Response {
                    diagnostics: vec![],
                });
            }
            _ => {
                let mut diagnostics = vec![];
                check_required(&config, &["dir"], &mut diagnostics);
                return Ok(configure::Response { diagnostics });
            }
        };
        tracing::debug!(dir, terraform = request.terraform_version, "configuring");
        let diagnostics = match Store::open(&PathBuf::from(dir)) {
            Ok(store) => {
                *self.store.write().unwrap_or_else(PoisonError::into_inner) = Some(store);
                vec![]
            }
            Err(e) => {
                let mut d = failure("Cannot open the store", &e, Some("dir"));
                d.detail.push_str(
                    "\n\n`dir` must name a directory this provider can create or write to \
                     (with its `.rkv` subdirectory); fix its permissions or choose another one.",
                );
                vec![d]
            }
        };
        Ok(configure::Response { diagnostics })
    }

    async fn read_resource(&self, request: read::Request) -> Result<read::Response, Status> {
        resource::read_resource(self, request)
    }

    async fn plan_resource_change(&self, request: plan::Request) -> Result<plan::Response, Status> {
        resource::plan_resource_change(request)
    }

    async fn apply_resource_change(
        &self,
        request: apply::Request,
    ) -> Result<apply::Response, Status> {
        resource::apply_resource_change(self, request)
    }

    async fn import_resource_state(
        &self,
        request: import::Request,
    ) -> Result<import::Response, Status> {
        resource::import_resource_state(self, request)
    }

    async fn move_resource_state(
        &self,
        request: move_state::Request,
    ) -> Result<move_state::Response, Status> {
        resource::move_resource_state(request)
    }

    async fn read_data_source(
        &self,
        request: read_data::Request,
    ) -> Result<read_data::Response, Status> {
        data::read_data_source(self, request)
    }

    async fn get_functions(
        &self,
        request: get_functions::Request,
    ) -> Result<get_functions::Response, Status> {
        function::get_functions(request)
    }

    async fn call_function(
        &self,
        request: call_function::Request,
    ) -> Result<call_function::Response, Status> {
        function::call_function(request)
    }

    async fn stop_provider(&self, _: stop::Request) -> Result<stop::Response, Status> {
        // Every call here is short and local: there is nothing to interrupt.
        Ok(stop::Response::default())
    }
}
