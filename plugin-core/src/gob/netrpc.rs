//! Go's `net/rpc` framing over gob: each call is a header followed by a body, on one gob
//! stream per direction (what `gobClientCodec` and `gobServerCodec` write).
//!
//! A client sends [`RequestHeader`] + arguments; the server answers [`ResponseHeader`] +
//! reply, or an error string with an empty body. These codecs do no I/O of their own beyond
//! the given reader and writer, and do not match replies to calls (that is `seq`'s purpose).
//!
//! ```
//! use plugin_core::gob::netrpc::{ClientCodec, RequestHeader, ResponseHeader, ServerCodec};
//!
//! // The client's request, as bytes.
//! let mut request = Vec::new();
//! let mut client = ClientCodec::new(&[][..], &mut request);
//! client.write_request(&RequestHeader { service_method: "Plugin.Get".into(), seq: 1 }, &"key".to_string())?;
//!
//! // The server reads it and answers.
//! let mut response = Vec::new();
//! let mut server = ServerCodec::new(&request[..], &mut response);
//! let header = server.read_request_header()?;
//! let key: String = server.read_request_body()?;
//! assert_eq!((header.service_method.as_str(), header.seq, key.as_str()), ("Plugin.Get", 1, "key"));
//! server.write_response(&ResponseHeader::ok(&header), &b"value".to_vec())?;
//!
//! let mut client = ClientCodec::new(&response[..], Vec::new());
//! let reply = client.read_response_header()?;
//! assert_eq!((reply.seq, reply.error.as_str()), (1, ""));
//! assert_eq!(client.read_response_body::<Vec<u8>>()?, b"value");
//! # Ok::<(), plugin_core::gob::GobError>(())
//! ```

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Decoder, Encoder, GobError};

/// The header of a call: Go's `rpc.Request`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Request")]
pub struct RequestHeader {
    /// The method, as `"Service.Method"`.
    #[serde(rename = "ServiceMethod", default)]
    pub service_method: String,
    /// The call's sequence number, chosen by the client; the response repeats it.
    #[serde(rename = "Seq", default)]
    pub seq: u64,
}

/// The header of an answer: Go's `rpc.Response`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Response")]
pub struct ResponseHeader {
    /// The method of the call answered.
    #[serde(rename = "ServiceMethod", default)]
    pub service_method: String,
    /// The call's sequence number.
    #[serde(rename = "Seq", default)]
    pub seq: u64,
    /// The error, or empty on success (then a reply body follows; otherwise an empty one).
    #[serde(rename = "Error", default)]
    pub error: String,
}

impl ResponseHeader {
    /// The successful answer to `request`.
    pub fn ok(request: &RequestHeader) -> Self {
        ResponseHeader {
            service_method: request.service_method.clone(),
            seq: request.seq,
            error: String::new(),
        }
    }
}

/// The body Go's server sends with an error: `struct{}{}` (its `invalidRequest`).
#[derive(Serialize, Deserialize)]
struct InvalidRequest {}

/// The client's end: writes requests, reads responses.
#[derive(Debug)]
pub struct ClientCodec<R, W> {
    decoder: Decoder<R>,
    encoder: Encoder<W>,
}

impl<R: Read, W: Write> ClientCodec<R, W> {
    /// A codec reading responses from `reader` and writing requests to `writer`.
    pub fn new(reader: R, writer: W) -> Self {
        Self::from_parts(Decoder::new(reader), Encoder::new(writer))
    }

    /// A codec from a configured decoder and encoder (for other [`Limits`](super::Limits)).
    pub fn from_parts(decoder: Decoder<R>, encoder: Encoder<W>) -> Self {
        ClientCodec { decoder, encoder }
    }

    /// Writes a call: the header, then the arguments.
    pub fn write_request<B: Serialize + DeserializeOwned>(
        &mut self,
        header: &RequestHeader,
        body: &B,
    ) -> Result<(), GobError> {
        self.encoder.encode(header)?;
        self.encoder.encode(body)
    }

    /// Reads the next response header ([`GobError::EndOfStream`] when the server closed).
    pub fn read_response_header(&mut self) -> Result<ResponseHeader, GobError> {
        self.decoder.decode()
    }

    /// Reads the reply that follows a successful header.
    pub fn read_response_body<T: DeserializeOwned>(&mut self) -> Result<T, GobError> {
        self.decoder.decode()
    }

    /// Discards the body that follows a header (after an error, or for an unknown `seq`).
    pub fn skip_response_body(&mut self) -> Result<(), GobError> {
        self.decoder.skip()
    }
}

/// The server's end: reads requests, writes responses.
#[derive(Debug)]
pub struct ServerCodec<R, W> {
    decoder: Decoder<R>,
    encoder: Encoder<W>,
}

impl<R: Read, W: Write> ServerCodec<R, W> {
    /// A codec reading requests from `reader` and writing responses to `writer`.
    pub fn new(reader: R, writer: W) -> Self {
        Self::from_parts(Decoder::new(reader), Encoder::new(writer))
    }

    /// A codec from a configured decoder and encoder (for other [`Limits`](super::Limits)).
    pub fn from_parts(decoder: Decoder<R>, encoder: Encoder<W>) -> Self {
        ServerCodec { decoder, encoder }
    }

    /// Reads the next request header ([`GobError::EndOfStream`] when the client closed).
    pub fn read_request_header(&mut self) -> Result<RequestHeader, GobError> {
        self.decoder.decode()
    }

    /// Reads the arguments that follow a request header.
    pub fn read_request_body<T: DeserializeOwned>(&mut self) -> Result<T, GobError> {
        self.decoder.decode()
    }

    /// Discards the arguments (for an unknown method, as Go's server does).
    pub fn skip_request_body(&mut self) -> Result<(), GobError> {
        self.decoder.skip()
    }

    /// Writes a successful answer: the header (its `error` should be empty), then the reply.
    pub fn write_response<B: Serialize + DeserializeOwned>(
        &mut self,
        header: &ResponseHeader,
        body: &B,
    ) -> Result<(), GobError> {
        self.encoder.encode(header)?;
        self.encoder.encode(body)
    }

    /// Writes a failed answer to `request`: the error in the header and Go's empty body.
    pub fn write_error(&mut self, request: &RequestHeader, error: &str) -> Result<(), GobError> {
        let header = ResponseHeader {
            error: error.to_owned(),
            ..ResponseHeader::ok(request)
        };
        self.encoder.encode(&header)?;
        self.encoder.encode(&InvalidRequest {})
    }
}
