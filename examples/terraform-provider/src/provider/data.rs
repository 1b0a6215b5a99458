//! The `rkv_entry` data source.

use super::*;

pub(super) fn validate_data_resource_config(
    request: validate_data::Request,
) -> Result<validate_data::Response, Status> {
    let mut diagnostics = vec![];
    if request.type_name != ENTRY {
        diagnostics.push(unknown_type(&request.type_name));
    }
    match decode(request.config.as_ref(), "data source configuration") {
        Err(d) => diagnostics.push(d),
        Ok(config) => {
            let config = config.unwrap_or_default();
            check_required(&config, &["key"], &mut diagnostics);
            check_key(&config, &mut diagnostics);
        }
    }
    Ok(validate_data::Response { diagnostics })
}

pub(super) fn read_data_source(
    provider: &RkvProvider,
    request: read_data::Request,
) -> Result<read_data::Response, Status> {
    let fail = |d: Diagnostic| read_data::Response {
        diagnostics: vec![d],
        ..Default::default()
    };
    if request.type_name != ENTRY {
        return Ok(fail(unknown_type(&request.type_name)));
    }
    let config = match decode(request.config.as_ref(), "data source configuration") {
        Ok(config) => config.unwrap_or_default(),
        Err(d) => return Ok(fail(d)),
    };
    let (store, key) = match (provider.store(), known_string(&config, "key")) {
        (Ok(store), Ok(key)) => (store, key.to_owned()),
        (Err(d), _) | (_, Err(d)) => return Ok(fail(d)),
    };
    match store.read(&key) {
        Ok(Some(entry)) => {
            let mut state = config.clone();
            state
                .set("id", Value::String(key))
                .set("value", Value::String(entry.value))
                .set("version", Value::Number(entry.version));
            Ok(read_data::Response {
                state: Some(state.encode(DATA_ATTRIBUTES)),
                ..Default::default()
            })
        }
        Ok(None) => Ok(fail(error(
            format!("No entry {key:?}"),
            format!("there is no file {}", store.dir().join(&key).display()),
            Some("key"),
        ))),
        Err(e) => Ok(fail(failure(
            format!("Cannot read entry {key:?}"),
            &e,
            Some("key"),
        ))),
    }
}
