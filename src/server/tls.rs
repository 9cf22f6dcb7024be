//! TLS for `--tls-cert` / `--tls-key`: PEM files → a rustls 0.23 `ServerConfig` (ring provider),
//! built while the command line is validated, before the server binds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read as PEM.
    #[error("{}: cannot read the certificate chain: {source}", path.display())]
    Certs {
        /// `--tls-cert`.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{}: no certificate found (expected PEM `-----BEGIN CERTIFICATE-----`)", path.display())]
    NoCerts {
        /// `--tls-cert`.
        path: PathBuf,
    },
    /// The key file cannot be read as a PEM private key.
    #[error("{}: cannot read the private key: {source}", path.display())]
    Key {
        /// `--tls-key`.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refuses the pair (a key that does not match the certificate, an unsupported key).
    #[error("{} and {}: {source}", cert.display(), key.display())]
    Config {
        /// `--tls-cert`.
        cert: PathBuf,
        /// `--tls-key`.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certs { path: cert.to_owned(), source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts { path: cert.to_owned() });
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key { path: key.to_owned(), source })?;
    let config_error = |source| TlsError::Config { cert: cert.to_owned(), key: key.to_owned(), source };
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(config_error)?;
    Ok(Arc::new(config))
}
