//! Certificates and TLS server configuration.
//!
//! Prism clusters get self-signed certificates (as real clusters ship), which the product pins by
//! fingerprint. The Azure endpoints get certificates issued by a lab CA, so the product trusts ARM
//! through a configured extra root instead of turning verification off. A cluster's certificate can
//! be rotated while it serves (the resolver swaps the key pair), which is what the product's
//! pinning must notice.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::Datelike;
use parking_lot::RwLock;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot read a PEM file: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    #[error("certificate file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A certificate and its private key, both PEM, as stored in the state folder.
#[derive(Clone)]
pub struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertPair")
            .field("sha256", &self.sha256_hex())
            .finish_non_exhaustive()
    }
}

impl CertPair {
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, TlsError> {
        Ok(CertificateDer::from_pem_slice(self.cert_pem.as_bytes())?)
    }

    /// Lower-case hex SHA-256 of the DER certificate: what the product shows and pins.
    pub fn sha256_hex(&self) -> String {
        match self.cert_der() {
            Ok(der) => hex(&Sha256::digest(der.as_ref())),
            Err(_) => String::new(),
        }
    }

    fn certified_key(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let cert = self.cert_der()?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())?;
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider.key_provider.load_private_key(key)?;
        Ok(Arc::new(CertifiedKey::new(vec![cert], signing)))
    }

    /// Loads `{stem}.pem` and `{stem}.key` from `dir` if both exist.
    pub fn load(dir: &Path, stem: &str) -> Result<Option<Self>, TlsError> {
        let cert_path = dir.join(format!("{stem}.pem"));
        let key_path = dir.join(format!("{stem}.key"));
        if !cert_path.is_file() || !key_path.is_file() {
            return Ok(None);
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| TlsError::Io {
                path: p.display().to_string(),
                source,
            })
        };
        Ok(Some(Self {
            cert_pem: read(&cert_path)?,
            key_pem: read(&key_path)?,
        }))
    }

    pub fn save(&self, dir: &Path, stem: &str) -> Result<(), TlsError> {
        let io = |p: &Path, source| TlsError::Io {
            path: p.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let cert_path = dir.join(format!("{stem}.pem"));
        std::fs::write(&cert_path, &self.cert_pem).map_err(|e| io(&cert_path, e))?;
        let key_path = dir.join(format!("{stem}.key"));
        std::fs::write(&key_path, &self.key_pem).map_err(|e| io(&key_path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }
}

fn validity(params: &mut CertificateParams, years: i32) {
    // Real clusters' certificates carry a validity the product shows the user; the lab's start a
    // day before generation so a clock that is slightly behind still accepts them. Wall-clock time
    // on purpose, not the lab clock: TLS clients judge validity by the real time.
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    params.not_before = rcgen::date_time_ymd(start.year(), start.month() as u8, start.day() as u8);
    params.not_after = rcgen::date_time_ymd(
        start.year() + years,
        start.month() as u8,
        start.day().min(28) as u8,
    );
}

/// A self-signed certificate whose CN and SAN are the cluster's IP, as a Prism cluster presents.
pub fn self_signed_for_ip(ip: IpAddr, cluster: &str) -> Result<CertPair, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![ip.to_string()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ip.to_string());
    dn.push(DnType::OrganizationName, "Nutanix Inc. (Standby lab)");
    dn.push(DnType::OrganizationalUnitName, cluster);
    params.distinguished_name = dn;
    validity(&mut params, 5);
    let cert = params.self_signed(&key)?;
    Ok(CertPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The lab's certificate authority for the Azure endpoints.
pub struct LabCa {
    pub pair: CertPair,
    key: KeyPair,
}

const CA_NAME: &str = "Standby Lab Root CA";

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "Standby lab");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl LabCa {
    pub fn generate() -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        validity(&mut params, 10);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            pair: CertPair {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            key,
        })
    }

    pub fn from_pair(pair: CertPair) -> Result<Self, TlsError> {
        let key = KeyPair::from_pem(&pair.key_pem)?;
        Ok(Self { pair, key })
    }

    /// A server certificate for `hosts` (IPs or DNS names) signed by this CA. The issuer is rebuilt
    /// from the CA's fixed name and its key, which is all a signature needs.
    pub fn issue(&self, hosts: &[String]) -> Result<CertPair, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(hosts.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hosts.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, 2);
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Serves whatever certificate was set last: rotation takes effect on the next handshake.
#[derive(Debug)]
pub struct SwappableCert {
    current: RwLock<(Arc<CertifiedKey>, CertPair)>,
}

impl SwappableCert {
    pub fn new(pair: CertPair) -> Result<Arc<Self>, TlsError> {
        let key = pair.certified_key()?;
        Ok(Arc::new(Self {
            current: RwLock::new((key, pair)),
        }))
    }

    pub fn swap(&self, pair: CertPair) -> Result<(), TlsError> {
        let key = pair.certified_key()?;
        *self.current.write() = (key, pair);
        Ok(())
    }

    pub fn pair(&self) -> CertPair {
        self.current.read().1.clone()
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().0.clone())
    }
}

/// A server configuration on the ring provider (never the process-wide default).
pub fn server_config(resolver: Arc<SwappableCert>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    // HTTP/1.1 only: a dropped connection then looks the same to every client (no HTTP/2 stream
    // reset that a client might retry on the same connection).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration on the ring provider that trusts exactly these PEM certificates: the lab
/// CA for ARM and the token endpoint, or a cluster's self-signed certificate. (The product pins
/// cluster certificates by fingerprint instead; this is for the lab's own tools and tests.)
pub fn client_config(trusted_pems: &[&str]) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in trusted_pems {
        roots.add(CertificateDer::from_pem_slice(pem.as_bytes())?)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_issues_certificates_and_reloads_from_pem() {
        let ca = LabCa::generate().unwrap();
        let leaf = ca.issue(&["127.0.0.1".into(), "localhost".into()]).unwrap();
        assert_eq!(leaf.sha256_hex().len(), 64);
        let again = LabCa::from_pair(ca.pair.clone()).unwrap();
        let other = again.issue(&["localhost".into()]).unwrap();
        assert_ne!(leaf.sha256_hex(), other.sha256_hex());
        let swap = SwappableCert::new(leaf.clone()).unwrap();
        swap.swap(other.clone()).unwrap();
        assert_eq!(swap.pair().sha256_hex(), other.sha256_hex());
    }
}
