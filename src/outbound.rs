//! TLS for the gateway's outbound https: rustls with the ring provider, verifying servers
//! against the system's trusted roots. Broadcast stations and the platform's services use it.

use std::sync::Arc;

/// rustls with the ring provider and the platform's verifier (full chain and name checks).
/// Without trusted roots (a minimal container) every https handshake fails, and a warning
/// says why once here.
pub fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    match rustls_platform_verifier::Verifier::new(provider) {
        // rustls calls any verifier other than its own webpki one "dangerous"; this one is the
        // platform's full chain and name verification.
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier)),
        Err(e) => {
            tracing::warn!(error = %e, "no trusted root certificates: outbound https will fail");
            builder.with_root_certificates(rustls::RootCertStore::empty())
        }
    }
    .with_no_client_auth()
}
