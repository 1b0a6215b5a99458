//! The TLS floor: the unix-socket round trip with both ends wrapped in rustls, configured as
//! this SDK's AutoMTLS configures a Rust host and a Rust plugin (the runtime's own
//! configurations, `plugin-runtime/src/tls.rs`): ring's default provider (so the same cipher-suite preference: TLS 1.3 with
//! `TLS13_AES_256_GCM_SHA384`), TLS 1.3 or 1.2, ALPN `h2`, each side presenting a one-time
//! AutoMTLS certificate ([`Certificate`], ECDSA P-256) and accepting exactly the other's. What
//! AutoMTLS must cost at least: every byte encrypted and authenticated, nothing else.
//!
//! The harness makes both certificates and writes the peer's (certificate, key, then the host's
//! certificate, as PEM) into the floor's private directory, for `--echo-peer-tls`.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;

use plugin_runtime::__private::{auto_mtls_client_config, auto_mtls_server_config};
use plugin_runtime::Certificate;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConnection, ServerConnection, StreamOwned};

/// The host's end of a TLS floor connection.
pub type ClientStream = StreamOwned<ClientConnection, UnixStream>;

/// The peer's end of a TLS floor connection.
pub type ServerStream = StreamOwned<ServerConnection, UnixStream>;

/// The server name both ends use, as AutoMTLS does.
const SERVER_NAME: &str = "localhost";

/// The host's certificate and the peer's, made fresh for one floor measurement.
pub struct Keys {
    host: Certificate,
    peer: Certificate,
}

impl Keys {
    /// Two one-time AutoMTLS certificates.
    pub fn generate() -> io::Result<Keys> {
        Ok(Keys {
            host: Certificate::generate().map_err(io::Error::other)?,
            peer: Certificate::generate().map_err(io::Error::other)?,
        })
    }

    /// What the peer reads from its `--echo-peer-tls` file: its certificate and key, then the
    /// host's certificate.
    pub fn peer_pem(&self) -> String {
        format!(
            "{}{}{}",
            self.peer.pem(),
            self.peer.key_pem(),
            self.host.pem()
        )
    }

    /// The host's end of a connection to the peer: presents the host's certificate, accepts only
    /// the peer's. The handshake completes on first use.
    pub fn client(&self, socket: UnixStream) -> io::Result<ClientStream> {
        let key = PrivateKeyDer::from_pem_slice(self.host.key_pem().as_bytes())
            .map_err(io::Error::other)?;
        let mut config = auto_mtls_client_config(der(&self.host), key, der(&self.peer))
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
        Ok(StreamOwned::new(conn, socket))
    }
}

fn der(cert: &Certificate) -> CertificateDer<'static> {
    CertificateDer::from(cert.der().to_vec())
}

/// The peer's end of a connection, from the PEM file `keys` ([`Keys::peer_pem`]).
pub fn server(keys: &Path, socket: UnixStream) -> io::Result<ServerStream> {
    let pem = std::fs::read(keys)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(io::Error::other)?;
    let [own, host] = <[_; 2]>::try_from(certs).map_err(|certs| {
        io::Error::other(format!(
            "{}: {} certificates, not 2 (own, host)",
            keys.display(),
            certs.len()
        ))
    })?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(io::Error::other)?;
    let mut config = auto_mtls_server_config(own, key, host).map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let conn = ServerConnection::new(Arc::new(config)).map_err(io::Error::other)?;
    Ok(StreamOwned::new(conn, socket))
}

/// `TLSv1_3 TLS13_AES_256_GCM_SHA384`: what a connection negotiated.
pub fn negotiated(stream: &ClientStream) -> String {
    let version = stream
        .conn
        .protocol_version()
        .map_or("?".into(), |v| format!("{v:?}"));
    let suite = stream
        .conn
        .negotiated_cipher_suite()
        .map_or("?".into(), |s| format!("{:?}", s.suite()));
    format!("{version} {suite}")
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// Both ends over a socket pair: the handshake completes on the AutoMTLS suite, bytes pass,
    /// and a host pinning another certificate is refused.
    #[test]
    fn both_ends_agree_on_the_automtls_suite_and_an_unpinned_host_is_refused() {
        let keys = Keys::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("peer.pem");
        std::fs::write(&file, keys.peer_pem()).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            let mut s = server(&file, b)?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf)?;
            s.write_all(&buf)?;
            s.flush()
        });
        let mut c = keys.client(a).unwrap();
        c.write_all(b"ping").unwrap();
        c.flush().unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!(negotiated(&c), "TLSv1_3 TLS13_AES_256_GCM_SHA384");
        assert_eq!(c.conn.alpn_protocol(), Some(&b"h2"[..]));
        peer.join().unwrap().unwrap();

        let other = Keys::generate().unwrap();
        let file = dir.path().join("other.pem");
        std::fs::write(&file, other.peer_pem()).unwrap();
        // Pins the other peer, but presents a certificate that peer does not pin.
        let impostor = Keys {
            host: keys.host,
            peer: other.peer,
        };
        let (a, b) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            let mut s = server(&file, b)?;
            s.read(&mut [0u8; 1])
        });
        let mut c = impostor.client(a).unwrap();
        let _ = c.write_all(b"ping").and_then(|()| c.flush());
        assert!(
            c.read(&mut [0u8; 1]).is_err(),
            "a peer that pins another host"
        );
        let _ = peer.join();
    }
}
