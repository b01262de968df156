//! TLS (rustls with the `ring` provider): the server side of HTTPS and of the CoT streaming
//! listener with client certificates, the client side of `https://` webhooks, and the rule
//! that maps a client certificate to a team.
//!
//! Certificates and keys are read from PEM files (`rustls-pki-types`); a file that holds
//! none, or does not parse, is an error naming the file. Nothing here parses TLS or X.509 by
//! hand except [`common_name`], which finds the subject's CN in the DER that
//! `rustls-webpki` hands over (it exposes the SANs but not the CN).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The one crypto provider: ring (aws-lc-rs needs cmake and a long C build).
// Deprecated in 0.23.48 only for lacking post-quantum key exchange, which ring does not have;
// the alternative is aws-lc-rs (see above).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file (at least one).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("{} holds no readable PEM private key", path.display()))
}

/// A root store of every certificate in a PEM file.
pub fn roots(path: &Path) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for c in certificates(path)? {
        store
            .add(c)
            .with_context(|| format!("{}: a certificate is not a usable CA", path.display()))?;
    }
    Ok(store)
}

/// A server's TLS configuration: its certificate chain and key; with `client_ca`, every
/// client must present a certificate that CA signed (else the handshake fails).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                .build()
                .with_context(|| format!("client CA {}", ca.display()))?,
        ),
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certificates(cert)?, private_key(key)?)
        .with_context(|| {
            format!(
                "the key {} does not go with the certificate {}",
                key.display(),
                cert.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// A client's TLS configuration for `https://` webhooks: servers verified against the CAs in
/// `ca` when given, else against Mozilla's roots as bundled (`webpki-roots`).
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let roots = match ca {
        Some(p) => roots(p)?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The URI SAN prefix that names a team: `urn:truce:team:ID`.
pub const TEAM_URI_PREFIX: &str = "urn:truce:team:";

/// The names a client certificate gives its holder, in the order they are tried against the
/// mission's teams: each URI SAN `urn:truce:team:ID` (ID), each DNS SAN, then the subject's
/// common name. Empty for a certificate that does not parse.
pub fn certificate_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return Vec::new();
    };
    let mut names: Vec<String> = ee
        .valid_uri_names()
        .filter_map(|u| u.strip_prefix(TEAM_URI_PREFIX))
        .map(str::to_string)
        .collect();
    names.extend(ee.valid_dns_names().map(str::to_string));
    names.extend(common_name(ee.subject()));
    names
}

/// The first common name (OID 2.5.4.3) in a DER `Name`'s contents, if it is a UTF8String,
/// PrintableString or IA5String of short form length. Hand-written: a few bytes of DER that
/// `rustls-webpki` keeps opaque, not worth an X.509 parser.
fn common_name(subject: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = subject.windows(CN_OID.len()).position(|w| w == CN_OID)? + CN_OID.len();
    let (&tag, rest) = subject.get(at..)?.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if !matches!(tag, 0x0c | 0x13 | 0x16) || len >= 0x80 {
        return None;
    }
    let value = rest.get(..usize::from(len))?;
    std::str::from_utf8(value).ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_is_found_and_long_forms_are_not_guessed() {
        // SET { SEQUENCE { OID 2.5.4.3, UTF8String "team-1" } }
        let name = [
            0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x06, b't', b'e', b'a',
            b'm', b'-', b'1',
        ];
        assert_eq!(common_name(&name).as_deref(), Some("team-1"));
        let mut long = name;
        long[10] = 0x81;
        assert_eq!(common_name(&long), None);
        assert_eq!(common_name(&name[..12]), None);
    }
}
