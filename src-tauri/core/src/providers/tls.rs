//! TLS for the providers: certificate pinning for Prism clusters (they ship self-signed
//! certificates), extra trusted roots for ARM (sovereign clouds, a proxy's CA, the lab's CA), and a
//! probe that reads a server's certificate so the user can decide whether to trust it.
//!
//! Nothing here accepts an unknown certificate for an API call. The probe's accept-all verifier
//! only ever reads a certificate for display; it never carries a request.

use std::sync::Arc;

use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the TLS configuration could not be built: {0}")]
    Config(#[from] rustls::Error),
    #[error("the trusted certificate is not valid PEM: {0}")]
    BadPem(String),
    #[error("cannot reach {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{address} did not present a certificate")]
    NoCertificate { address: String },
    #[error("the certificate of {address} cannot be read: {message}")]
    Unreadable { address: String, message: String },
}

/// The crypto provider of the whole workspace (ring), passed explicitly rather than installed
/// process-wide, so that no library can pick another one behind our back.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Lower-case hex SHA-256 of a DER certificate: the fingerprint users compare and we pin.
pub fn fingerprint(cert: &[u8]) -> String {
    hex::encode(Sha256::digest(cert))
}

/// `ab:cd:...` for display, as browsers and Prism show fingerprints.
pub fn fingerprint_colons(hex_fp: &str) -> String {
    hex_fp
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or("??").to_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// What the server showed when a pinned certificate did not match: kept so that the error can
/// say which certificate is there now, and the user can confirm it.
#[derive(Debug, Clone, Default)]
pub struct PresentedCert(Arc<Mutex<Option<String>>>);

impl PresentedCert {
    pub fn take(&self) -> Option<String> {
        self.0.lock().take()
    }
}

/// Accepts exactly one end-entity certificate (by SHA-256), whatever its name or issuer, and still
/// checks that the server holds its key (handshake signatures are verified).
#[derive(Debug)]
struct PinnedVerifier {
    pinned: String,
    presented: PresentedCert,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        if fp == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            *self.presented.0.lock() = Some(fp);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration that trusts only the certificate with this SHA-256 fingerprint.
/// Returns the slot where a mismatching certificate's fingerprint is left for the error message.
pub fn pinned_client_config(
    fingerprint_hex: &str,
) -> Result<(rustls::ClientConfig, PresentedCert), TlsError> {
    let presented = PresentedCert::default();
    let provider = provider();
    let verifier = Arc::new(PinnedVerifier {
        pinned: fingerprint_hex.to_ascii_lowercase().replace(':', ""),
        presented: presented.clone(),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // not dangerous: a stricter check than the web PKI, see PinnedVerifier
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((config, presented))
}

/// A client configuration that trusts the Mozilla roots plus `extra_roots_pem` (PEM, may hold
/// several certificates): for ARM in sovereign clouds, behind a TLS-inspecting proxy, or the lab.
pub fn web_client_config(extra_roots_pem: Option<&str>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_roots_pem {
        let mut found = 0;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| TlsError::BadPem(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| TlsError::BadPem(e.to_string()))?;
            found += 1;
        }
        if found == 0 {
            return Err(TlsError::BadPem("no CERTIFICATE block found".into()));
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

use rustls::pki_types::pem::PemObject;

/// What the user is shown before trusting a cluster's certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct CertificateInfo {
    /// Lower-case hex SHA-256 of the DER certificate (what gets pinned).
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
}

/// Reads what the user is shown from a DER certificate.
pub fn describe(der: &[u8], address: &str) -> Result<CertificateInfo, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| TlsError::Unreadable {
        address: address.to_string(),
        message: e.to_string(),
    })?;
    let ts = |t: x509_parser::time::ASN1Time| {
        chrono::DateTime::from_timestamp(t.timestamp(), 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    Ok(CertificateInfo {
        sha256: fingerprint(der),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: ts(cert.validity().not_before),
        not_after: ts(cert.validity().not_after),
        self_signed: cert.subject() == cert.issuer(),
    })
}

/// Records the certificate and accepts it: used only by [`probe`], which never sends a request.
#[derive(Debug)]
struct RecordingVerifier {
    seen: Mutex<Option<Vec<u8>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Connects to `host:port`, completes a TLS handshake and returns the server's certificate for the
/// user to inspect. No HTTP request is sent.
pub async fn probe(host: &str, port: u16) -> Result<CertificateInfo, TlsError> {
    let address = format!("{host}:{port}");
    let provider = provider();
    let verifier = Arc::new(RecordingVerifier {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // records the certificate for display; carries no request
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
        handshake(tcp, conn).await
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), connect)
        .await
        .map_err(|_| TlsError::Connect {
            address: address.clone(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 10 s"),
        })?
        .map_err(|source| TlsError::Connect {
            address: address.clone(),
            source,
        })?;
    let der = verifier
        .seen
        .lock()
        .take()
        .ok_or_else(|| TlsError::NoCertificate {
            address: address.clone(),
        })?;
    describe(&der, &address)
}

/// Drives a rustls handshake over a tokio stream (without tokio-rustls, to keep core's
/// dependencies small).
async fn handshake(
    mut tcp: tokio::net::TcpStream,
    mut conn: rustls::ClientConnection,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    while conn.is_handshaking() {
        while conn.wants_write() {
            let mut out = Vec::new();
            conn.write_tls(&mut out)?;
            tcp.write_all(&out).await?;
        }
        if !conn.is_handshaking() {
            break;
        }
        if conn.wants_read() {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let mut slice = &buf[..n];
            while !slice.is_empty() {
                conn.read_tls(&mut slice)?;
                conn.process_new_packets()
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            }
        }
    }
    Ok(())
}
