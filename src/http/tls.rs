//! The listener's TLS: the rustls configuration built from the `[tls]` files, swapped whole on
//! [`Tls::reload`] (SIGHUP) so that each new handshake takes the current one while open
//! connections keep theirs, and what a connection learns of its peer ([`Peer`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::{self, ClientAuth};
use crate::domain::subject::DistinguishedName;

/// What the connection knows of who is calling, given to the routing with each request.
#[derive(Debug, Clone)]
pub struct Peer {
    pub address: SocketAddr,
    /// The subject of the client certificate the handshake verified, if one was presented.
    pub subject: Option<DistinguishedName>,
}

impl Peer {
    /// Why this caller may not use `/partner`, if it may not: it must have a verified client
    /// certificate when there are client CAs, its subject among the allowed ones and its
    /// address in an allowed network when those are listed.
    pub fn partner_refusal(&self, config: &config::Config) -> Option<&'static str> {
        let partner = &config.partner;
        let certificate_required = config.tls.as_ref().and_then(config::Tls::client_auth);
        if certificate_required.is_some() && self.subject.is_none() {
            return Some("a verified client certificate is required");
        }
        if !partner.allowed_subjects.is_empty()
            && !self
                .subject
                .as_ref()
                .is_some_and(|s| partner.allowed_subjects.contains(s))
        {
            return Some("the client certificate's subject is not allowed");
        }
        let ip = self.address.ip();
        if !partner.allowed_networks.is_empty()
            && !partner.allowed_networks.iter().any(|n| n.contains(ip))
        {
            return Some("the address is not in an allowed network");
        }
        None
    }
}

/// The TLS side of the listener: the files it was built from and the configuration in use.
pub struct Tls {
    files: config::Tls,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads the files; an error names the file and what is wrong with it.
    pub fn load(files: &config::Tls) -> Result<Tls, String> {
        Ok(Tls {
            current: RwLock::new(server_config(files)?),
            files: files.clone(),
        })
    }

    /// The configuration a new handshake uses.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the files again and, if they are good, makes them the current configuration; on
    /// failure the one in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = server_config(&self.files)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

fn server_config(files: &config::Tls) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates("tls.cert", &files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("tls.key {}: {}", files.key.display(), pem_problem(e)))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match (&files.client_ca, files.client_auth()) {
        (Some(path), Some(mode)) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates("tls.client_ca", path)? {
                roots
                    .add(ca)
                    .map_err(|e| format!("tls.client_ca {}: {e}", path.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match mode {
                ClientAuth::Partner => verifier.allow_unauthenticated(),
                ClientAuth::All => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("tls.client_ca {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "tls.cert {} and tls.key {}: {e}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file, at least one.
fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = |what: String| format!("{key} {}: {what}", path.display());
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| name(pem_problem(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| name(pem_problem(e)))?;
    if certificates.is_empty() {
        return Err(name("no PEM certificate in it".into()));
    }
    Ok(certificates)
}

fn pem_problem(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of the expected kind".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}
