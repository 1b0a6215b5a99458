//! The `rkv_entry` resource: validation, state upgrades, refresh, plan, apply, import.

use super::*;

pub(super) fn validate_resource_config(
    request: validate_resource::Request,
) -> Result<validate_resource::Response, Status> {
    let mut diagnostics = vec![];
    if request.type_name != ENTRY {
        diagnostics.push(unknown_type(&request.type_name));
    }
    match decode(request.config.as_ref(), "resource configuration") {
        Err(d) => diagnostics.push(d),
        Ok(config) => {
            let config = config.unwrap_or_default();
            check_required(&config, &["key", "value"], &mut diagnostics);
            check_key(&config, &mut diagnostics);
            if config.get("value").as_str() == Some("") {
                diagnostics.push(warning(
                    "Empty value",
                    "the entry's file will be empty; set `value` to store something",
                    Some("value"),
                ));
            }
        }
    }
    Ok(validate_resource::Response { diagnostics })
}

pub(super) fn upgrade_resource_state(
    request: upgrade::Request,
) -> Result<upgrade::Response, Status> {
    // There has only been schema version 0: the stored JSON is re-encoded as msgpack.
    let json = request.raw_state.map(|raw| raw.json).unwrap_or_default();
    let parsed = serde_json::from_slice::<serde_json::Value>(&json)
        .map_err(value::ValueError::Json)
        .and_then(|json| Object::from_json(&json));
    Ok(match parsed {
        Ok(state) => upgrade::Response {
            upgraded_state: Some(match state {
                Some(state) => state.encode(RESOURCE_ATTRIBUTES),
                None => value::null(),
            }),
            diagnostics: vec![],
        },
        Err(e) => upgrade::Response {
            upgraded_state: None,
            diagnostics: vec![failure("Unreadable stored state for rkv_entry", &e, None)],
        },
    })
}

pub(super) fn read_resource(
    provider: &RkvProvider,
    request: read::Request,
) -> Result<read::Response, Status> {
    let fail = |d: Diagnostic, request: read::Request| read::Response {
        new_state: request.current_state,
        diagnostics: vec![d],
        private: request.private,
        deferred: None,
    };
    let state = match decode(request.current_state.as_ref(), "state") {
        Ok(Some(state)) => state,
        Ok(None) => {
            return Ok(read::Response {
                new_state: Some(value::null()),
                ..Default::default()
            });
        }
        Err(d) => return Ok(fail(d, request)),
    };
    let (store, key) = match (provider.store(), known_string(&state, "key")) {
        (Ok(store), Ok(key)) => (store, key.to_owned()),
        (Err(d), _) | (_, Err(d)) => return Ok(fail(d, request)),
    };
    let entry = match store.read(&key) {
        Ok(Some(entry)) => entry,
        // Deleted outside Terraform: a null state makes Terraform plan to create it again.
        Ok(None) => {
            return Ok(read::Response {
                new_state: Some(value::null()),
                ..Default::default()
            });
        }
        Err(e) => {
            return Ok(fail(
                failure(format!("Cannot read entry {key:?}"), &e, None),
                request,
            ));
        }
    };
    let mut diagnostics = vec![];
    let seen = serde_json::from_slice::<Private>(&request.private).ok();
    if seen.is_some_and(|p| p.sha256 != sha256_hex(&entry.value)) {
        diagnostics.push(warning(
            format!("Entry {key:?} was changed outside Terraform"),
            format!(
                "{} no longer holds the value Terraform last wrote or read",
                store.dir().join(&key).display()
            ),
            Some("value"),
        ));
    }
    Ok(read::Response {
        new_state: Some(entry_state(&key, &entry).encode(RESOURCE_ATTRIBUTES)),
        diagnostics,
        private: private_for(&entry.value),
        deferred: None,
    })
}

pub(super) fn plan_resource_change(request: plan::Request) -> Result<plan::Response, Status> {
    let fail = |d: Diagnostic| plan::Response {
        diagnostics: vec![d],
        ..Default::default()
    };
    let prior = match decode(request.prior_state.as_ref(), "prior state") {
        Ok(prior) => prior,
        Err(d) => return Ok(fail(d)),
    };
    let proposed = match decode(request.proposed_new_state.as_ref(), "proposed state") {
        Ok(proposed) => proposed,
        Err(d) => return Ok(fail(d)),
    };
    let Some(mut planned) = proposed else {
        // A destroy: nothing to add.
        return Ok(plan::Response {
            planned_state: Some(value::null()),
            planned_private: request.prior_private,
            ..Default::default()
        });
    };
    let key = planned.get("key").clone();
    let mut requires_replace = vec![];
    match &prior {
        None => {
            // An existing entry is refused at apply, not here: under `terraform apply
            // -replace` the entry is planned for creation while it still exists.
            planned
                .set("id", key.clone())
                .set("version", Value::Unknown);
        }
        Some(prior) if prior.get("key") != &key => {
            requires_replace.push(path("key"));
            planned.set("id", key).set("version", Value::Unknown);
        }
        Some(prior) => {
            let changed = ["value", "sensitive_value"]
                .iter()
                .any(|name| prior.get(name) != planned.get(name));
            planned.set("id", prior.get("id").clone()).set(
                "version",
                if changed {
                    Value::Unknown
                } else {
                    prior.get("version").clone()
                },
            );
        }
    }
    Ok(plan::Response {
        planned_state: Some(planned.encode(RESOURCE_ATTRIBUTES)),
        requires_replace,
        planned_private: request.prior_private,
        diagnostics: vec![],
        legacy_type_system: false,
        deferred: None,
    })
}

pub(super) fn apply_resource_change(
    provider: &RkvProvider,
    request: apply::Request,
) -> Result<apply::Response, Status> {
    let fail = |d: Diagnostic, state: Option<DynamicValue>| apply::Response {
        new_state: state,
        diagnostics: vec![d],
        ..Default::default()
    };
    let prior = match decode(request.prior_state.as_ref(), "prior state") {
        Ok(prior) => prior,
        Err(d) => return Ok(fail(d, request.prior_state)),
    };
    let planned = match decode(request.planned_state.as_ref(), "planned state") {
        Ok(planned) => planned,
        Err(d) => return Ok(fail(d, request.prior_state)),
    };
    let store = match provider.store() {
        Ok(store) => store,
        Err(d) => return Ok(fail(d, request.prior_state)),
    };
    let Some(mut planned) = planned else {
        // Destroy.
        let Some(prior) = prior else {
            return Ok(apply::Response {
                new_state: Some(value::null()),
                ..Default::default()
            });
        };
        let key = match known_string(&prior, "key") {
            Ok(key) => key.to_owned(),
            Err(d) => return Ok(fail(d, request.prior_state)),
        };
        return Ok(match store.delete(&key) {
            Ok(()) => apply::Response {
                new_state: Some(value::null()),
                ..Default::default()
            },
            Err(e) => fail(
                failure(format!("Cannot delete entry {key:?}"), &e, None),
                request.prior_state,
            ),
        });
    };
    let (key, new_value) = match (
        known_string(&planned, "key"),
        known_string(&planned, "value"),
    ) {
        (Ok(key), Ok(value)) => (key.to_owned(), value.to_owned()),
        (Err(d), _) | (_, Err(d)) => return Ok(fail(d, request.prior_state)),
    };
    if let Some(problem) = key_problem(&key) {
        return Ok(fail(
            error(
                format!("Invalid key {}", quoted(&key)),
                problem,
                Some("key"),
            ),
            request.prior_state,
        ));
    }
    let sensitive = planned.get("sensitive_value").as_str().map(str::to_owned);
    // Any file there refuses a create, even one the store cannot read: it is not ours.
    let exists = match prior {
        Some(_) => Ok(false),
        None => store.exists(&key),
    };
    if let Err(e) = &exists {
        return Ok(fail(
            failure(format!("Cannot read entry {key:?}"), e, None),
            request.prior_state,
        ));
    }
    if matches!(exists, Ok(true)) {
        return Ok(fail(
            error(
                format!("Entry {key:?} already exists"),
                format!(
                    "{} exists already and belongs to no resource of this configuration. \
                     Import it with `terraform import <resource address> {key}`, or choose \
                     another key. (A resource replaced under the same key with \
                     `create_before_destroy` meets its own entry here: its replacement cannot \
                     be made before the old one is gone, so drop `create_before_destroy` for \
                     that replacement.)",
                    store.dir().join(&key).display()
                ),
                Some("key"),
            ),
            None,
        ));
    }
    match store.write(&key, &new_value, sensitive.as_deref()) {
        Ok(version) => {
            planned
                .set("id", Value::String(key.clone()))
                .set("version", Value::Number(version));
            Ok(apply::Response {
                new_state: Some(planned.encode(RESOURCE_ATTRIBUTES)),
                private: private_for(&new_value),
                diagnostics: vec![],
                legacy_type_system: false,
            })
        }
        Err(e) => Ok(fail(
            failure(format!("Cannot write entry {key:?}"), &e, None),
            request.prior_state,
        )),
    }
}

pub(super) fn import_resource_state(
    provider: &RkvProvider,
    request: import::Request,
) -> Result<import::Response, Status> {
    let fail = |d: Diagnostic| import::Response {
        diagnostics: vec![d],
        ..Default::default()
    };
    if request.type_name != ENTRY {
        return Ok(fail(unknown_type(&request.type_name)));
    }
    let key = request.id;
    if let Some(problem) = key_problem(&key) {
        return Ok(fail(error(
            format!("Cannot import {key:?}"),
            format!("the import id is the entry's key, and {problem}"),
            None,
        )));
    }
    let store = match provider.store() {
        Ok(store) => store,
        Err(d) => return Ok(fail(d)),
    };
    match store.read(&key) {
        Ok(Some(entry)) => Ok(import::Response {
            imported_resources: vec![import::ImportedResource {
                type_name: ENTRY.to_owned(),
                state: Some(entry_state(&key, &entry).encode(RESOURCE_ATTRIBUTES)),
                private: private_for(&entry.value),
            }],
            diagnostics: vec![],
            deferred: None,
        }),
        Ok(None) => Ok(fail(error(
            format!("Cannot import {key:?}: no such entry"),
            format!(
                "there is no file {}; the import id is the key of an existing entry",
                store.dir().join(&key).display()
            ),
            None,
        ))),
        Err(e) => Ok(fail(failure(format!("Cannot import {key:?}"), &e, None))),
    }
}

pub(super) fn move_resource_state(
    request: move_state::Request,
) -> Result<move_state::Response, Status> {
    Ok(move_state::Response {
        diagnostics: vec![error(
            "Move not supported",
            format!(
                "rkv_entry cannot take the state of {} {:?}",
                request.source_provider_address, request.source_type_name
            ),
            None,
        )],
        ..Default::default()
    })
}
