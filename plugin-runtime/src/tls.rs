//! Transport security: go-plugin's AutoMTLS and manual TLS.
//!
//! AutoMTLS: the host makes a one-time certificate and passes its PEM in `PLUGIN_CLIENT_CERT`;
//! the plugin makes its own and returns its DER in the handshake line. Each side then accepts
//! exactly the other's certificate, compared byte for byte: nothing else can connect, and no
//! chain validation is involved (go-plugin's certificates are self-signed CA certificates used
//! as leaves, which standard WebPKI validation rejects).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use tokio::io::{AsyncRead, AsyncWrite};

/// The server name both sides use, as go-plugin does.
const SERVER_NAME: &str = "localhost";

/// Validity of generated certificates: go-plugin's 262 980 hours (about 30 years).
const VALIDITY: Duration = Duration::from_secs(262_980 * 3600);

/// How long a peer may take to complete a TLS handshake before it is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// ring for everything that needs randomness (key exchange, our signatures, TLS randoms): it
/// seeds from the OS at once, where aws-lc spends ~30 ms per process seeding from CPU jitter,
/// and a plugin is a new process every time. aws-lc-rs only verifies the peer's signatures,
/// which needs no randomness and covers Go's P-521 certificates (ring has no P-521).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.signature_verification_algorithms =
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
    Arc::new(provider)
}

/// Our P-256 key, made and used by ring; rcgen only encodes the certificate.
struct RingKey {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl rcgen::PublicKeyData for RingKey {
    fn der_bytes(&self) -> &[u8] {
        use ring::signature::KeyPair as _;
        self.pair.public_key().as_ref()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RingKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.pair
            .sign(&self.rng, msg)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| rcgen::Error::RingUnspecified)
    }
}

/// Setting up TLS failed: what we were doing, and the crypto library's error as the source.
///
/// ```
/// # fn f(e: plugin_runtime::TlsError) {
/// use std::error::Error as _;
/// eprintln!("{e}: {}", e.source().map(|s| s.to_string()).unwrap_or_default());
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct TlsError {
    context: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl TlsError {
    fn new(context: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        TlsError {
            context,
            source: Box::new(source),
        }
    }
}

/// A one-time certificate and its private key, in go-plugin's AutoMTLS profile: self-signed,
/// CN and SAN `localhost`, O `HashiCorp`, CA:TRUE, client and server auth, valid from 30 s ago
/// for 30 years. The key is ECDSA P-256: cheap to make and accepted by every TLS stack (Go's
/// own certificates are P-521, which we accept but do not send).
///
/// ```
/// let cert = plugin_runtime::Certificate::generate()?;
/// assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok::<(), plugin_runtime::TlsError>(())
/// ```
pub struct Certificate {
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pem: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("der_len", &self.der.len())
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Makes a fresh certificate and key.
    pub fn generate() -> Result<Certificate, TlsError> {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|e| TlsError::new("generating a key", e))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| TlsError::new("loading the key", e))?;
        let key = RingKey { pair, rng };
        let cert = Self::params()?
            .self_signed(&key)
            .map_err(|e| TlsError::new("self-signing", e))?;
        Ok(Certificate {
            pem: cert.pem(),
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()),
        })
    }

    /// As [`Certificate::generate`] with another key type, made by rcgen (go-plugin uses P-521).
    #[cfg(test)]
    pub(crate) fn generate_with(
        algorithm: &'static rcgen::SignatureAlgorithm,
    ) -> Result<Certificate, TlsError> {
        let key = rcgen::KeyPair::generate_for(algorithm)
            .map_err(|e| TlsError::new("generating a key", e))?;
        let cert = Self::params()?
            .self_signed(&key)
            .map_err(|e| TlsError::new("self-signing", e))?;
        Ok(Certificate {
            pem: cert.pem(),
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// go-plugin's certificate profile, with a random serial below 2^127.
    fn params() -> Result<rcgen::CertificateParams, TlsError> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
            KeyUsagePurpose, SerialNumber,
        };
        let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()])
            .map_err(|e| TlsError::new("certificate parameters", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "HashiCorp");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::seconds(30);
        params.not_after = now + VALIDITY;
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
            .map_err(|e| TlsError::new("random serial", e))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        Ok(params)
    }

    /// The certificate as PEM (what the host puts in `PLUGIN_CLIENT_CERT`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.key.secret_pkcs8_der());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    /// The certificate as DER (what the plugin puts in its handshake line).
    pub fn der(&self) -> &[u8] {
        self.der.as_ref()
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// Parses the host's certificate from `PLUGIN_CLIENT_CERT` (PEM).
pub(crate) fn parse_pem_certificate(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| TlsError::new("PLUGIN_CLIENT_CERT is not a PEM certificate", e))
}

/// Accepts exactly one certificate, by its bytes, and checks the handshake signature with it.
#[derive(Debug)]
struct PinnedCert {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCert {
    fn new(cert: CertificateDer<'static>) -> Arc<Self> {
        Arc::new(PinnedCert {
            cert,
            algorithms: provider().signature_verification_algorithms,
        })
    }

    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if presented.as_ref() == self.cert.as_ref() {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

/// The handshake-signature part of a verifier, the same for both roles: checked with the
/// pinned certificate's key, by the provider's algorithms (P-521 included).
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    signature_checks!();
}

impl ClientCertVerifier for PinnedCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    signature_checks!();
}

/// AutoMTLS's TLS versions: 1.3, and 1.2 for older Go peers.
const VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

/// AutoMTLS's client role: present `cert`, accept only `server`. ALPN is left to the caller.
pub(crate) fn client_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    server: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ClientConfig, TlsError> {
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&VERSIONS)
        .map_err(|e| TlsError::new("TLS versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(PinnedCert::new(server))
        .with_client_auth_cert(vec![cert], key)
        .map_err(|e| TlsError::new("host certificate", e))
}

/// AutoMTLS's server role: present `cert`, accept only `client`. ALPN is left to the caller.
pub(crate) fn server_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    client: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ServerConfig, TlsError> {
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&VERSIONS)
        .map_err(|e| TlsError::new("TLS versions", e))?
        .with_client_cert_verifier(PinnedCert::new(client))
        .with_single_cert(vec![cert], key)
        .map_err(|e| TlsError::new("plugin certificate", e))
}

/// The host's side of a TLS connection to a plugin.
#[derive(Clone)]
pub(crate) struct ClientTls {
    connector: TlsConnector,
}

impl ClientTls {
    /// AutoMTLS: present `own`, accept only `server_der`.
    pub(crate) fn auto(own: &Certificate, server_der: Vec<u8>) -> Result<Self, TlsError> {
        Self::auto_with(own, server_der, provider())
    }

    fn auto_with(
        own: &Certificate,
        server_der: Vec<u8>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let server = CertificateDer::from(server_der);
        let config = client_config(own.der.clone(), own.key(), server, provider)?;
        Ok(Self::manual(config))
    }

    /// A user-supplied configuration (go-plugin's `ClientConfig.TLSConfig`); ALPN `h2` is added.
    pub(crate) fn manual(mut config: rustls::ClientConfig) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        ClientTls {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    pub(crate) async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: S,
    ) -> io::Result<tokio_rustls::client::TlsStream<S>> {
        let name = ServerName::try_from(SERVER_NAME)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, io))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}

/// The plugin's side of TLS connections from its host.
#[derive(Clone)]
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
}

impl ServerTls {
    /// AutoMTLS: present `own`, accept only the host's certificate.
    pub(crate) fn auto(own: &Certificate, host: CertificateDer<'static>) -> Result<Self, TlsError> {
        Self::auto_with(own, host, provider())
    }

    fn auto_with(
        own: &Certificate,
        host: CertificateDer<'static>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let config = server_config(own.der.clone(), own.key(), host, provider)?;
        Ok(Self::manual(config))
    }

    /// A user-supplied configuration (go-plugin's `TLSProvider`); ALPN `h2` is added.
    pub(crate) fn manual(mut config: rustls::ServerConfig) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }

    pub(crate) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: S,
    ) -> io::Result<tokio_rustls::server::TlsStream<S>> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(io))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// What a Go peer is, cryptographically: it signs with its P-521 key (aws-lc can; ring cannot).
    fn go_provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    /// A TLS session between `server` (presenting `server_cert`, pinning `client_cert`) and a
    /// client presenting `client_cert` and pinning `pinned`, with each side's crypto provider.
    async fn session(
        (server_cert, server_provider): (&Certificate, Arc<CryptoProvider>),
        (client_cert, client_provider): (&Certificate, Arc<CryptoProvider>),
        pinned: &[u8],
    ) -> io::Result<()> {
        let host = CertificateDer::from(client_cert.der().to_vec());
        let server =
            ServerTls::auto_with(server_cert, host, server_provider).map_err(io::Error::other)?;
        let client = ClientTls::auto_with(client_cert, pinned.to_vec(), client_provider)
            .map_err(io::Error::other)?;
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (accepted, connected) = tokio::join!(server.accept(a), client.connect(b));
        let (mut s, mut c) = (accepted?, connected?);
        c.write_all(b"ping").await?;
        c.flush().await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        Ok(())
    }

    #[tokio::test]
    async fn go_style_p521_ca_certificates_are_accepted_both_ways() {
        let go = Certificate::generate_with(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let ours = Certificate::generate().unwrap();
        // A Go plugin under our host, and our plugin under a Go host.
        session((&go, go_provider()), (&ours, provider()), go.der())
            .await
            .unwrap();
        session((&ours, provider()), (&go, go_provider()), ours.der())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn only_the_pinned_certificate_is_accepted() {
        let plugin = Certificate::generate().unwrap();
        let host = Certificate::generate().unwrap();
        let other = Certificate::generate().unwrap();
        let refused = session((&plugin, provider()), (&host, provider()), other.der()).await;
        assert!(refused.is_err());
    }
}
