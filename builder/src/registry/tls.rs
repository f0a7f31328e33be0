//! TLS settings of a registry connection: Mozilla's roots, plus the certificates of a
//! `--cert-dir` as containers-tools read one (`/etc/containers/certs.d/HOST/`): each
//! `*.crt` holds CA certificates added to the roots, and a `NAME.cert` with its
//! `NAME.key` is a client certificate. Verification can be turned off
//! (`--tls-verify=false`).

use crate::input;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// The most files a certificate directory may list: it is read whole.
const MAX_CERT_FILES: usize = 1000;

/// The TLS configuration for `verify` and the certificate directory `cert_dir`.
pub fn config(verify: bool, cert_dir: Option<&Path>) -> Result<TlsConfig, String> {
    let mut builder = TlsConfig::builder().disable_verification(!verify);
    let Some(dir) = cert_dir else {
        return Ok(builder.build());
    };
    let files = cert_files(dir)?;
    let roots = ca_certificates(&files)?;
    if !roots.is_empty() {
        let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der));
        builder = builder.root_certs(RootCerts::Specific(Arc::new(
            mozilla.chain(roots).collect(),
        )));
    }
    Ok(builder
        .client_cert(client_certificate(dir, &files)?)
        .build())
}

/// The names of the files in `dir`, sorted, so certificates load in a fixed order.
fn cert_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let failed = |e: std::io::Error| format!("--cert-dir {}: {e}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        files.push(entry.map_err(failed)?.path());
        if files.len() > MAX_CERT_FILES {
            return Err(format!(
                "--cert-dir {}: more than {MAX_CERT_FILES} files; is it the right directory?",
                dir.display()
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// The certificates of every `*.crt` file.
fn ca_certificates(files: &[PathBuf]) -> Result<Vec<Certificate<'static>>, String> {
    let mut certificates = Vec::new();
    for file in files.iter().filter(|f| has_extension(f, "crt")) {
        certificates.extend(certificates_in(file)?);
    }
    Ok(certificates)
}

/// The PEM certificates of `file`, which must hold at least one.
fn certificates_in(file: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&read(file)?) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certificates.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("{}: not PEM: {e}", file.display())),
        }
    }
    if certificates.is_empty() {
        return Err(format!("{}: holds no PEM certificate", file.display()));
    }
    Ok(certificates)
}

/// The client certificate of a `NAME.cert` and `NAME.key` pair, checked to be usable:
/// ureq would panic on a key rustls refuses. One pair at most, since one is sent.
fn client_certificate(dir: &Path, files: &[PathBuf]) -> Result<Option<ClientCert>, String> {
    let certs: Vec<&PathBuf> = files.iter().filter(|f| has_extension(f, "cert")).collect();
    let keys: Vec<&PathBuf> = files.iter().filter(|f| has_extension(f, "key")).collect();
    let pair = match (certs.as_slice(), keys.as_slice()) {
        ([], []) => return Ok(None),
        ([cert], [key]) if cert.with_extension("key") == **key => (*cert, *key),
        _ => {
            return Err(format!(
                "--cert-dir {}: a client certificate is one NAME.cert with its NAME.key, and there are {} .cert and {} .key files",
                dir.display(),
                certs.len(),
                keys.len()
            ))
        }
    };
    let chain = certificates_in(pair.0)?;
    let pem = read(pair.1)?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{}: {e}", pair.1.display()))?;
    check_client_key(&chain, &pem)
        .map_err(|e| format!("{} and {}: {e}", pair.0.display(), pair.1.display()))?;
    Ok(Some(ClientCert::new_with_certs(&chain, key)))
}

/// Whether rustls accepts the key of `key_pem` for `chain`, asked as ureq will ask it
/// (with the same provider).
fn check_client_key(chain: &[Certificate<'static>], key_pem: &[u8]) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| e.to_string())?;
    let chain = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    #[allow(deprecated)] // ureq's provider; the deprecation is about post-quantum suites
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(drop)
        .map_err(|e| format!("not a usable client certificate and key: {e}"))
}

fn has_extension(file: &Path, extension: &str) -> bool {
    file.extension().is_some_and(|e| e == extension)
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    input::read_bounded(file).map_err(|e| format!("{}: {e}", file.display()))
}
