//! The cluster's certificate authority and the certificates it issues: the serving
//! certificate of the API endpoint and client certificates (CN = user, O = groups).
//! The CA is generated on first start and kept in the cluster's state directory.

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Errors creating or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("pki file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating or parsing a certificate failed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

/// A certificate and its key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (PKCS#8).
    pub key_pem: String,
}

/// A certificate authority able to issue serving and client certificates.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate PEM (as stored; clients trust this).
    pub cert_pem: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io { path: path.to_path_buf(), source }
}

fn write_private(path: &Path, data: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
    f.write_all(data.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn validity(params: &mut CertificateParams, days: u64) {
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(3600)).into();
    params.not_after = (now + Duration::from_secs(days * 86400)).into();
}

impl Ca {
    /// Loads the CA from `dir/ca.crt` + `dir/ca.key`, creating both on first use.
    pub fn load_or_create(dir: &Path, common_name: &str) -> Result<Self, PkiError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        if crt.exists() && key.exists() {
            let cert_pem = std::fs::read_to_string(&crt).map_err(io(&crt))?;
            let key_pem = std::fs::read_to_string(&key).map_err(io(&key))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let params = CertificateParams::from_ca_cert_pem(&cert_pem)?;
            return Ok(Self { params, key, cert_pem });
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut params, 3650);
        let kp = KeyPair::generate()?;
        let cert = params.clone().self_signed(&kp)?;
        let cert_pem = cert.pem();
        write_private(&key, &kp.serialize_pem())?;
        write_private(&crt, &cert_pem)?;
        Ok(Self { params, key: kp, cert_pem })
    }

    fn issue(&self, mut params: CertificateParams) -> Result<CertPair, PkiError> {
        validity(&mut params, 365);
        let kp = KeyPair::generate()?;
        let issuer = self.params.clone().self_signed(&self.key)?;
        let cert = params.signed_by(&kp, &issuer, &self.key)?;
        Ok(CertPair { cert_pem: cert.pem(), key_pem: kp.serialize_pem() })
    }

    /// A serving certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, dns: &[String], ips: &[IpAddr]) -> Result<CertPair, PkiError> {
        let mut params = CertificateParams::new(dns.to_vec())?;
        params.subject_alt_names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.issue(params)
    }

    /// A client certificate for `user` in `groups` (CN and O, as Kubernetes reads them).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertPair, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        for g in groups {
            params.distinguished_name.push(DnType::OrganizationName, *g);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.issue(params)
    }
}

/// Loads a certificate pair from `dir/<name>.crt|key`, or issues and stores it.
pub fn load_or_issue(dir: &Path, name: &str, issue: impl FnOnce() -> Result<CertPair, PkiError>) -> Result<CertPair, PkiError> {
    let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    if crt.exists() && key.exists() {
        return Ok(CertPair {
            cert_pem: std::fs::read_to_string(&crt).map_err(io(&crt))?,
            key_pem: std::fs::read_to_string(&key).map_err(io(&key))?,
        });
    }
    let pair = issue()?;
    write_private(&key, &pair.key_pem)?;
    write_private(&crt, &pair.cert_pem)?;
    Ok(pair)
}

/// Writes `path` atomically with owner-only permissions.
pub fn write_secret_file(path: &Path, data: &str) -> Result<(), PkiError> {
    write_private(path, data)
}
