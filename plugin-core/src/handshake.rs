//! The handshake: the cookie both sides agree on, and the one line the plugin prints.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::error::HandshakeError;
use crate::protocol::{CORE_PROTOCOL_VERSION, Network, Protocol};

/// What host and plugin must agree on before they talk (go-plugin's `HandshakeConfig`).
///
/// The magic cookie is not security: it only lets a plugin binary tell a person who runs it by
/// hand that it is not meant to be run directly.
///
/// ```
/// use plugin_core::HandshakeConfig;
/// let hs = HandshakeConfig::new(1, "BASIC_PLUGIN", "hello");
/// assert_eq!(hs.protocol_version, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// The app protocol version used when plugin sets are not versioned.
    pub protocol_version: u32,
    /// Name of the environment variable carrying the cookie.
    pub magic_cookie_key: String,
    /// The cookie's value.
    pub magic_cookie_value: String,
}

impl HandshakeConfig {
    /// A handshake config with the given version and cookie.
    pub fn new(
        protocol_version: u32,
        magic_cookie_key: impl Into<String>,
        magic_cookie_value: impl Into<String>,
    ) -> Self {
        HandshakeConfig {
            protocol_version,
            magic_cookie_key: magic_cookie_key.into(),
            magic_cookie_value: magic_cookie_value.into(),
        }
    }
}

/// Field 6 is a certificate only when longer than this: older plugins put 48 base64
/// characters of vestigial JSON there (go-plugin's client.go).
const MIN_CERT_FIELD_LEN: usize = 50;

/// The line a plugin prints first on stdout:
/// `CORE|APPVER|NETWORK|ADDRESS|PROTOCOL|SERVERCERT[|MUX]`.
///
/// One parser ([`FromStr`]) and one formatter ([`fmt::Display`], without the newline).
///
/// ```
/// use plugin_core::{HandshakeLine, Network, Protocol};
///
/// // Older and non-Go plugins print 4 or 5 fields; `\r\n` is tolerated.
/// let line: HandshakeLine = "1|1|tcp|127.0.0.1:1234|grpc\r\n".parse()?;
/// assert_eq!(line.address, "127.0.0.1:1234");
/// assert_eq!(line.server_cert, None);
///
/// let ours = HandshakeLine::new(3, Network::Unix, "/tmp/plugin42", Protocol::Grpc);
/// assert_eq!(ours.to_string(), "1|3|unix|/tmp/plugin42|grpc|");
/// assert_eq!(ours.with_multiplex(true).to_string(), "1|3|unix|/tmp/plugin42|grpc||true");
/// # Ok::<(), plugin_core::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    /// Field 0, always [`CORE_PROTOCOL_VERSION`] once parsed.
    pub core_version: u32,
    /// Field 1: the negotiated app protocol version.
    pub app_version: u32,
    /// Field 2.
    pub network: Network,
    /// Field 3: a socket path or `IP:PORT`.
    pub address: String,
    /// Field 4; `netrpc` when absent, as go-plugin assumes.
    pub protocol: Protocol,
    /// Field 5: the plugin's AutoMTLS certificate (DER), sent as unpadded standard base64.
    pub server_cert: Option<Vec<u8>>,
    /// Field 6: broker multiplexing support, present only when the host asked for it.
    pub multiplex: Option<bool>,
}

impl HandshakeLine {
    /// A line for the current core version, without certificate or multiplexing field.
    pub fn new(
        app_version: u32,
        network: Network,
        address: impl Into<String>,
        protocol: Protocol,
    ) -> Self {
        HandshakeLine {
            core_version: CORE_PROTOCOL_VERSION,
            app_version,
            network,
            address: address.into(),
            protocol,
            server_cert: None,
            multiplex: None,
        }
    }

    /// Adds the plugin's AutoMTLS certificate (DER).
    pub fn with_server_cert(mut self, der: Vec<u8>) -> Self {
        self.server_cert = Some(der);
        self
    }

    /// Adds the 7th field. Only print it when the host set `PLUGIN_MULTIPLEX_GRPC`: hosts older
    /// than go-plugin 1.6 would glue it onto the certificate field.
    pub fn with_multiplex(mut self, supported: bool) -> Self {
        self.multiplex = Some(supported);
        self
    }
}

impl fmt::Display for HandshakeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cert = self
            .server_cert
            .as_deref()
            .map(|der| STANDARD_NO_PAD.encode(der))
            .unwrap_or_default();
        write!(
            f,
            "{}|{}|{}|{}|{}|{}",
            self.core_version, self.app_version, self.network, self.address, self.protocol, cert
        )?;
        if let Some(mux) = self.multiplex {
            write!(f, "|{mux}")?;
        }
        Ok(())
    }
}

impl FromStr for HandshakeLine {
    type Err = HandshakeError;

    /// Parses a line the way go-plugin's host does: trimmed, split on every `|`, 4 to 7 fields.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let line = raw.trim();
        let parts: Vec<&str> = line.split('|').collect();
        if parts.len() < 4 {
            return Err(HandshakeError::Unrecognized {
                line: line.to_string(),
            });
        }
        let core_version: u32 =
            parts[0]
                .parse()
                .map_err(|_| HandshakeError::InvalidCoreVersion {
                    value: parts[0].to_string(),
                    line: line.to_string(),
                })?;
        if core_version != CORE_PROTOCOL_VERSION {
            return Err(HandshakeError::IncompatibleCoreVersion {
                plugin: parts[0].to_string(),
                core: CORE_PROTOCOL_VERSION,
            });
        }
        let app_version: u32 = parts[1]
            .parse()
            .map_err(|_| HandshakeError::InvalidAppVersion {
                value: parts[1].to_string(),
                line: line.to_string(),
            })?;
        let network: Network =
            parts[2]
                .parse()
                .map_err(|network| HandshakeError::UnknownNetwork {
                    network,
                    address: parts[3].to_string(),
                })?;
        let protocol = match parts.get(4) {
            None => Protocol::NetRpc,
            Some(p) => p.parse().map_err(|value| HandshakeError::UnknownProtocol {
                value,
                line: line.to_string(),
            })?,
        };
        let server_cert = match parts.get(5) {
            Some(cert) if cert.len() > MIN_CERT_FIELD_LEN => {
                Some(STANDARD_NO_PAD.decode(cert).map_err(|e| {
                    HandshakeError::InvalidServerCert {
                        reason: e.to_string(),
                    }
                })?)
            }
            _ => None,
        };
        let multiplex = match parts.get(6) {
            None => None,
            Some(v) => Some(crate::protocol::parse_go_bool(v).ok_or_else(|| {
                HandshakeError::InvalidMultiplex {
                    value: v.to_string(),
                }
            })?),
        };
        Ok(HandshakeLine {
            core_version,
            app_version,
            network,
            address: parts[3].to_string(),
            protocol,
            server_cert,
            multiplex,
        })
    }
}

/// Go's `strconv.ParseBool`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_four_to_seven_fields() {
        let four: HandshakeLine = "1|2|unix|/s".parse().unwrap();
        assert_eq!(four.protocol, Protocol::NetRpc);
        let six: HandshakeLine = "1|2|unix|/s|grpc|".parse().unwrap();
        assert_eq!(six.protocol, Protocol::Grpc);
        assert_eq!(six.server_cert, None);
        let seven: HandshakeLine = "1|2|unix|/s|grpc||true".parse().unwrap();
        assert_eq!(seven.multiplex, Some(true));
        let seven_false: HandshakeLine = "1|2|unix|/s|grpc||false".parse().unwrap();
        assert_eq!(seven_false.multiplex, Some(false));
    }

    #[test]
    fn certificate_round_trips_unpadded() {
        let der: Vec<u8> = (0..=255u8).cycle().take(301).collect();
        let line = HandshakeLine::new(1, Network::Unix, "/s", Protocol::Grpc)
            .with_server_cert(der.clone());
        let text = line.to_string();
        assert!(!text.contains('='), "RawStd base64 has no padding: {text}");
        assert_eq!(
            text.parse::<HandshakeLine>().unwrap().server_cert,
            Some(der)
        );
    }

    #[test]
    fn padded_certificate_is_rejected() {
        let padded = format!("1|1|unix|/s|grpc|{}==", "A".repeat(62));
        assert!(matches!(
            padded.parse::<HandshakeLine>(),
            Err(HandshakeError::InvalidServerCert { .. })
        ));
    }

    #[test]
    fn short_sixth_field_is_legacy_data_not_a_cert() {
        // 48 characters: the vestigial base64 JSON of old plugins.
        let legacy = format!("1|1|unix|/s|grpc|{}", "e".repeat(48));
        assert_eq!(legacy.parse::<HandshakeLine>().unwrap().server_cert, None);
    }

    #[test]
    fn errors_are_distinct() {
        assert!(matches!(
            "x|1|unix|/s|grpc|".parse::<HandshakeLine>(),
            Err(HandshakeError::InvalidCoreVersion { .. })
        ));
        assert!(matches!(
            "2|1|unix|/s|grpc|".parse::<HandshakeLine>(),
            Err(HandshakeError::IncompatibleCoreVersion { .. })
        ));
        assert!(matches!(
            "1|v|unix|/s|grpc|".parse::<HandshakeLine>(),
            Err(HandshakeError::InvalidAppVersion { .. })
        ));
        assert!(matches!(
            "1|1|pipe|/s|grpc|".parse::<HandshakeLine>(),
            Err(HandshakeError::UnknownNetwork { .. })
        ));
        assert!(matches!(
            "1|1|unix|/s|soap|".parse::<HandshakeLine>(),
            Err(HandshakeError::UnknownProtocol { .. })
        ));
        assert!(matches!(
            "1|1|unix|/s|grpc||maybe".parse::<HandshakeLine>(),
            Err(HandshakeError::InvalidMultiplex { .. })
        ));
        assert!(matches!(
            "".parse::<HandshakeLine>(),
            Err(HandshakeError::Unrecognized { .. })
        ));
    }
}
