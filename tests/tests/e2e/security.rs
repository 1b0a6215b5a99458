//! Only the host that started a plugin may talk to it.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use plugin_runtime::rustls;
use plugin_runtime::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use plugin_runtime::{Certificate, Client};

use crate::common::*;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the peer answered like an HTTP/2 server: a SETTINGS frame (type 4) first.
fn speaks_h2(reply: &[u8]) -> bool {
    reply.len() >= 9 && reply[3] == 0x04
}

fn read_some(stream: &mut impl Read) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    match stream.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// What a plaintext HTTP/2 client gets back from `socket`.
fn plaintext_probe(socket: &str) -> Vec<u8> {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(H2_PREFACE).unwrap();
    read_some(&mut s)
}

/// Accepts any server certificate: a stranger that does not care who the plugin is.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client to `socket`, presenting `cert` (or none); returns what the server answers to an
/// HTTP/2 preface.
fn tls_stranger(socket: &str, cert: Option<&Certificate>) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some(cert) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::from_pem_slice(cert.key_pem().as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut sock = UnixStream::connect(socket).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    if tls.write_all(H2_PREFACE).is_err() {
        return Vec::new();
    }
    read_some(&mut tls)
}

use plugin_runtime::rustls::pki_types::pem::PemObject;

#[tokio::test]
async fn strangers_are_refused_and_the_plugin_keeps_serving_its_host() {
    let client = client(fixture(""));
    let kv = kv(&client).await;
    put(&kv, "before", b"1").await;
    let socket = client.reattach_config().unwrap().addr.address;

    let plaintext = tokio::task::spawn_blocking({
        let socket = socket.clone();
        move || plaintext_probe(&socket)
    })
    .await
    .unwrap();
    assert!(!speaks_h2(&plaintext), "plaintext refused: {plaintext:?}");

    let no_cert = tokio::task::spawn_blocking({
        let socket = socket.clone();
        move || tls_stranger(&socket, None)
    })
    .await
    .unwrap();
    assert!(!speaks_h2(&no_cert), "TLS without a certificate refused");

    let other = tokio::task::spawn_blocking({
        let socket = socket.clone();
        move || tls_stranger(&socket, Some(&Certificate::generate().unwrap()))
    })
    .await
    .unwrap();
    assert!(!speaks_h2(&other), "TLS with another certificate refused");

    put(&kv, "after", b"2").await;
    assert_eq!(get(&kv, "before").await, b"1");
    client.ping().await.unwrap();
    client.kill().await;
}

#[tokio::test]
async fn the_control_case_a_stranger_to_a_plaintext_plugin_is_served() {
    // Proves the probe above can tell: without AutoMTLS the same bytes get an HTTP/2 answer.
    let client = Client::new(config(fixture("")).auto_mtls(false)).unwrap();
    client.start().await.unwrap();
    let socket = client.reattach_config().unwrap().addr.address;
    let reply = tokio::task::spawn_blocking(move || plaintext_probe(&socket))
        .await
        .unwrap();
    assert!(speaks_h2(&reply), "{reply:?}");
    client.kill().await;
}

#[tokio::test]
async fn host_socket_dir_is_private_and_removed() {
    let base = tempfile::tempdir().unwrap();
    let client = Client::new(config(fixture("")).unix_socket_dir(base.path())).unwrap();
    client.start().await.unwrap();
    let socket = std::path::PathBuf::from(client.reattach_config().unwrap().addr.address);
    let dir = socket.parent().unwrap().to_path_buf();
    assert_eq!(dir.parent(), Some(base.path()));
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plugin-dir")
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    client.kill().await;
    assert!(!dir.exists(), "the host removed its socket directory");
}

#[tokio::test]
async fn host_socket_dir_with_a_group_is_0770_and_the_socket_0660() {
    let base = tempfile::tempdir().unwrap();
    let gid = unsafe { libc::getegid() };
    let client = Client::new(
        config(fixture(""))
            .unix_socket_dir(base.path())
            .unix_socket_group(gid.to_string()),
    )
    .unwrap();
    client.start().await.unwrap();
    let socket = std::path::PathBuf::from(client.reattach_config().unwrap().addr.address);
    let dir = socket.parent().unwrap();
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o770);
    assert_eq!(meta.gid(), gid);
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o660
    );
    client.kill().await;
}

/// A CA with a server and a client leaf, as a user of manual TLS would have.
pub(crate) struct Pki {
    pub(crate) ca: String,
    pub(crate) server: (String, String),
    pub(crate) client: (String, String),
}

pub(crate) fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf("localhost"),
        client: leaf("host"),
    }
}

#[tokio::test]
async fn manual_tls_on_both_sides() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("ca.pem", &pki.ca),
        ("server.pem", &pki.server.0),
        ("server.key", &pki.server.1),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut cmd = fixture("manual-tls");
    cmd.env("FIXTURE_TLS_DIR", dir.path());

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(pki.client.0.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.client.1.as_bytes()).unwrap(),
        )
        .unwrap();
    let client = Client::new(config(cmd).tls(tls)).unwrap();
    let kv = kv(&client).await;
    put(&kv, "k", b"over manual TLS").await;
    assert_eq!(get(&kv, "k").await, b"over manual TLS");
    client.kill().await;
}
