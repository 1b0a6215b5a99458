//! Diagnostics: the errors and warnings Terraform prints, each optionally pointing at the
//! attribute of the configuration it is about (Terraform then underlines that attribute).

use crate::proto::attribute_path::{Step, step::Selector};
use crate::proto::{AttributePath, Diagnostic, diagnostic::Severity};

/// An error about attribute `attribute` (or the whole block for `None`).
pub fn error(
    summary: impl Into<String>,
    detail: impl Into<String>,
    attribute: Option<&str>,
) -> Diagnostic {
    diagnostic(Severity::Error, summary.into(), detail.into(), attribute)
}

/// A warning about attribute `attribute` (or the whole block for `None`).
pub fn warning(
    summary: impl Into<String>,
    detail: impl Into<String>,
    attribute: Option<&str>,
) -> Diagnostic {
    diagnostic(Severity::Warning, summary.into(), detail.into(), attribute)
}

/// The path of a top-level attribute.
pub fn path(attribute: &str) -> AttributePath {
    AttributePath {
        steps: vec![Step {
            selector: Some(Selector::AttributeName(attribute.to_owned())),
        }],
    }
}

fn diagnostic(
    severity: Severity,
    summary: String,
    detail: String,
    attribute: Option<&str>,
) -> Diagnostic {
    Diagnostic {
        severity: severity as i32,
        summary,
        detail,
        attribute: attribute.map(path),
    }
}

/// An error whose detail is `error` with its causes, for failures of the store itself.
pub fn failure(
    summary: impl Into<String>,
    error: &dyn std::error::Error,
    attribute: Option<&str>,
) -> Diagnostic {
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    self::error(summary, detail, attribute)
}
