//! [`TlsConfig`]: TLS for every connection between nodes.

use std::fmt;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::ConfigError;

/// TLS settings: the certificate this node presents when it accepts a
/// connection, the authorities it trusts when it opens one, and the name it
/// expects in the peer's certificate. The cookie handshake still runs inside
/// the encrypted stream, so a peer needs both a trusted certificate and the
/// cookie.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

impl TlsConfig {
    /// Builds the settings from PEM text: this node's certificate chain and
    /// private key, the certificate authorities it trusts (one or more
    /// certificates), and the name peers' certificates are issued for
    /// (`"localhost"`, a DNS name, or an IP address).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Tls`] if a certificate, the key or the name does not
    /// parse, or rustls refuses the combination.
    pub fn from_pem(
        cert_chain_pem: &str,
        key_pem: &str,
        trusted_ca_pem: &str,
        server_name: &str,
    ) -> Result<Self, ConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = certificates(cert_chain_pem, "certificate chain")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|error| ConfigError::Tls(format!("private key: {error}")))?;
        let mut roots = RootCertStore::empty();
        for ca in certificates(trusted_ca_pem, "trusted authorities")? {
            roots
                .add(ca)
                .map_err(|error| ConfigError::Tls(format!("trusted authority: {error}")))?;
        }
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|error| ConfigError::Tls(format!("server name: {error}")))?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            server_name,
        })
    }
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ConfigError::Tls(format!("{what}: {error}")))?;
    if certificates.is_empty() {
        return Err(ConfigError::Tls(format!(
            "{what}: no certificate in the PEM text"
        )));
    }
    Ok(certificates)
}

fn tls_error(error: rustls::Error) -> ConfigError {
    ConfigError::Tls(error.to_string())
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}
