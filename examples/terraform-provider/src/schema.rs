//! What the provider declares to Terraform: the provider block, the `rkv_entry` resource and
//! data source, and the `checksum` function. Types are cty type constraints in JSON.

use std::collections::HashMap;

use crate::proto::{Function, Schema, StringKind, function, schema};

/// The resource and data source type.
pub const ENTRY: &str = "rkv_entry";
/// The function, called as `provider::rkv::checksum(...)`.
pub const CHECKSUM: &str = "checksum";

/// The attributes of the `rkv_entry` resource, in the order they are encoded.
pub const RESOURCE_ATTRIBUTES: &[&str] = &["id", "key", "sensitive_value", "value", "version"];
/// The attributes of the `rkv_entry` data source.
pub const DATA_ATTRIBUTES: &[&str] = &["id", "key", "value", "version"];

const STRING: &[u8] = b"\"string\"";
const NUMBER: &[u8] = b"\"number\"";

enum Mode {
    Required,
    Optional,
    Computed,
}

fn attribute(name: &str, ty: &[u8], mode: Mode, description: &str) -> schema::Attribute {
    schema::Attribute {
        name: name.to_owned(),
        r#type: ty.to_vec(),
        description: description.to_owned(),
        required: matches!(mode, Mode::Required),
        optional: matches!(mode, Mode::Optional),
        computed: matches!(mode, Mode::Computed),
        ..Default::default()
    }
}

fn block(description: &str, attributes: Vec<schema::Attribute>) -> Schema {
    Schema {
        version: 0,
        block: Some(schema::Block {
            version: 0,
            attributes,
            description: description.to_owned(),
            description_kind: StringKind::Plain as i32,
            ..Default::default()
        }),
    }
}

/// The provider block.
pub fn provider() -> Schema {
    block(
        "A key-value store kept as one file per key in a directory.",
        vec![attribute(
            "dir",
            STRING,
            Mode::Required,
            "The directory holding the entries (created if missing).",
        )],
    )
}

/// The `rkv_entry` resource.
pub fn resource() -> Schema {
    let mut sensitive = attribute(
        "sensitive_value",
        STRING,
        Mode::Optional,
        "A second value, hidden in Terraform's output.",
    );
    sensitive.sensitive = true;
    block(
        "An entry of the store: a file named after its key, holding its value.",
        vec![
            attribute("id", STRING, Mode::Computed, "The entry's key."),
            attribute(
                "key",
                STRING,
                Mode::Required,
                "The entry's key (its file name); changing it replaces the entry.",
            ),
            sensitive,
            attribute(
                "value",
                STRING,
                Mode::Required,
                "The entry's value, updated in place.",
            ),
            attribute(
                "version",
                NUMBER,
                Mode::Computed,
                "1 when created, one more on every update.",
            ),
        ],
    )
}

/// The `rkv_entry` data source.
pub fn data_source() -> Schema {
    block(
        "Reads an existing entry of the store.",
        vec![
            attribute("id", STRING, Mode::Computed, "The entry's key."),
            attribute("key", STRING, Mode::Required, "The key to read."),
            attribute("value", STRING, Mode::Computed, "The entry's value."),
            attribute("version", NUMBER, Mode::Computed, "The entry's version."),
        ],
    )
}

/// The provider's functions.
pub fn functions() -> HashMap<String, Function> {
    let checksum = Function {
        parameters: vec![function::Parameter {
            name: "input".to_owned(),
            r#type: STRING.to_vec(),
            description: "The string to hash.".to_owned(),
            ..Default::default()
        }],
        r#return: Some(function::Return {
            r#type: STRING.to_vec(),
        }),
        summary: "SHA-256 of a string".to_owned(),
        description: "Returns the SHA-256 digest of the UTF-8 bytes of its argument, as 64 \
                      lowercase hex digits."
            .to_owned(),
        ..Default::default()
    };
    HashMap::from([(CHECKSUM.to_owned(), checksum)])
}
