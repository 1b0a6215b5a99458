//! The interfaces of the `serde-fixture` plugins: `Jobs` (serde, several arguments, a struct,
//! an error enum), a changed `Jobs` served by `serde-fixture-v2`, and `Echo` (protobuf, with
//! its own error type carried as a gRPC status).

use std::fmt;

use plugin_runtime::{CallError, Code, HandshakeConfig, Status};
use serde::{Deserialize, Serialize};

/// The handshake of the serde fixtures.
pub fn handshake() -> HandshakeConfig {
    HandshakeConfig::new(1, "SERDE_FIXTURE", "jobs")
}

/// A unit of work sent to the plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Any id; echoed back.
    pub id: u64,
    /// Any tags; echoed back.
    pub tags: Vec<String>,
    /// Any bytes; echoed back.
    pub payload: Vec<u8>,
}

/// What the plugin did with a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The task, as received.
    pub task: Task,
    /// The text, repeated.
    pub text: String,
    /// The plugin's process id.
    pub pid: u32,
}

/// The errors of `Jobs`, application errors and call failures alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobError {
    /// No value for the key.
    NotFound {
        /// The key.
        key: String,
    },
    /// The plugin refused the work.
    Refused(String),
    /// The call failed outside the plugin's code (`CallError`).
    Call(String),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::NotFound { key } => write!(f, "no value for key {key:?}"),
            JobError::Refused(why) => write!(f, "refused: {why}"),
            JobError::Call(why) => write!(f, "call failed: {why}"),
        }
    }
}

impl std::error::Error for JobError {}

impl From<CallError> for JobError {
    fn from(e: CallError) -> Self {
        JobError::Call(e.to_string())
    }
}

/// The serde interface of the fixtures.
#[plugin_runtime::plugin_interface]
pub trait Jobs {
    /// Reports `text` repeated `times` times, and the task as received; panics when `text` is
    /// `"panic"`.
    async fn run(&self, text: String, times: u32, task: Task) -> Result<Report, JobError>;
    /// Returns `error` as the method's error.
    async fn fail(&self, error: JobError) -> Result<(), JobError>;
    /// Creates the file `marker`, then never returns.
    async fn block(&self, marker: std::path::PathBuf) -> Result<(), JobError>;
    /// Exits the plugin process with `code` in the middle of the call.
    #[plugin(name = "Quit")]
    async fn exit(&self, code: i32) -> Result<(), JobError>;
}

/// `Jobs` as a later version changed it: `run` takes a priority. Served by `serde-fixture-v2`
/// under the same service name, `plugin.Jobs`.
pub mod v2 {
    use super::{JobError, Report, Task};

    /// The changed interface.
    #[plugin_runtime::plugin_interface]
    pub trait Jobs {
        /// As in v1, with a priority.
        async fn run(
            &self,
            text: String,
            times: u32,
            task: Task,
            priority: u8,
        ) -> Result<Report, JobError>;
        /// As in v1.
        async fn fail(&self, error: JobError) -> Result<(), JobError>;
        /// As in v1.
        async fn block(&self, marker: std::path::PathBuf) -> Result<(), JobError>;
        /// As in v1.
        #[plugin(name = "Quit")]
        async fn exit(&self, code: i32) -> Result<(), JobError>;
    }
}

/// `fixture.EchoRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    /// Echoed back.
    #[prost(string, tag = "1")]
    pub text: String,
    /// When non-zero, fail with this gRPC code and `text` as the message.
    #[prost(int32, tag = "2")]
    pub fail_code: i32,
    /// Exit the plugin process in the middle of the call.
    #[prost(bool, tag = "3")]
    pub exit: bool,
}

/// `fixture.EchoReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    /// The request's text.
    #[prost(string, tag = "1")]
    pub text: String,
}

/// The error of `Echo`: a gRPC code and message, as a type of the application's own.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoError {
    /// The gRPC code.
    pub code: Code,
    /// The message.
    pub message: String,
}

impl From<CallError> for EchoError {
    fn from(e: CallError) -> Self {
        let status = Status::from(e);
        EchoError {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl From<EchoError> for Status {
    fn from(e: EchoError) -> Status {
        Status::new(e.code, e.message)
    }
}

/// The protobuf interface of the fixtures, served as `fixture.Echo`.
#[plugin_runtime::plugin_interface(package = "fixture", encoding = "protobuf")]
pub trait Echo {
    /// `/fixture.Echo/Echo`; panics when the text is `"panic"`; given `block:<path>`, creates
    /// the file at `path`, then never returns.
    async fn echo(&self, request: EchoRequest) -> Result<EchoReply, EchoError>;
}
