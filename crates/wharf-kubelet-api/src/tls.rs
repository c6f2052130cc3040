//! TLS for the kubelet API: a serving certificate from the cluster CA, client certificates
//! required and verified against the same CA, and only the API server's identity admitted.

use std::sync::Arc;

/// The common name of the API server's kubelet-client certificate (kubeadm's name).
pub const APISERVER_CLIENT_CN: &str = "kube-apiserver-kubelet-client";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input held no usable certificate or key.
    #[error("tls {what}: {message}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// What was wrong.
        message: String,
    },
    /// rustls rejected the configuration.
    #[error("tls config: {0}")]
    Config(String),
}

fn pem(what: &'static str) -> impl Fn(&dyn std::fmt::Display) -> TlsError {
    move |e| TlsError::Pem { what, message: e.to_string() }
}

/// Parses PEM certificates.
pub fn certs(what: &'static str, pem_text: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem_text.as_bytes()).collect::<Result<_, _>>().map_err(|e| pem(what)(&e))?;
    if certs.is_empty() {
        return Err(pem(what)(&"no certificate"));
    }
    Ok(certs)
}

/// Parses a PEM private key.
pub fn private_key(what: &'static str, pem_text: &str) -> Result<rustls::pki_types::PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut pem_text.as_bytes()).map_err(|e| pem(what)(&e))?.ok_or_else(|| pem(what)(&"no private key"))
}

/// A root store holding the cluster CA.
pub fn roots(ca_pem: &str) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs("ca", ca_pem)? {
        roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    Ok(roots)
}

/// The kubelet's server configuration: `cert_pem`/`key_pem` serve, clients must present a
/// certificate issued by `ca_pem`. HTTP/1.1 only (WebSocket upgrades).
pub fn server_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg_err = |e: &dyn std::fmt::Display| TlsError::Config(e.to_string());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider.clone()).build().map_err(|e| cfg_err(&e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg_err(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs("serving certificate", cert_pem)?, private_key("serving key", key_pem)?)
        .map_err(|e| cfg_err(&e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The subject common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}
