//! `[tls]`: the listener's certificate and key, and the client CAs of mutual TLS; `[partner]`:
//! who may call `/partner`. The files are named here and read when the server starts (and on
//! SIGHUP), by `http::tls`, which names the file it cannot read.

use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::destination::IpNetwork;
use crate::domain::subject::DistinguishedName;

use super::value::{FromToml, Refusal, checked, parsed};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The certificate chain, PEM, the server's own first.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM, one or more CAs: with it a client certificate is asked for, and one from another
    /// CA, or expired, is refused at the handshake.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Where a client certificate is required; only with `client_ca`.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
}

impl Tls {
    /// The client certificate's requirement, when there are client CAs.
    pub fn client_auth(&self) -> Option<ClientAuth> {
        self.client_ca
            .as_ref()
            .map(|_| self.client_auth.unwrap_or(ClientAuth::Partner))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Verified when presented; required on `/partner` (403 there without one).
    Partner,
    /// Required by the handshake on every connection.
    All,
}

/// Who may call `/partner`, besides what `[tls]` requires; an empty list allows everyone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Partner {
    /// The verified client certificate's subject must be one of these (RFC 4514 DNs).
    #[serde(deserialize_with = "parsed")]
    pub allowed_subjects: Vec<DistinguishedName>,
    /// The peer's address must be in one of these networks.
    #[serde(deserialize_with = "parsed")]
    pub allowed_networks: Vec<IpNetwork>,
}

impl FromToml for DistinguishedName {
    fn read<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |s: String| {
            DistinguishedName::parse(&s).map_err(Refusal::new)
        })
    }
}

/// What ties the two together: subjects are only known through verified client certificates.
pub(super) fn check(tls: Option<&Tls>, partner: &Partner) -> Result<(), Refusal> {
    if let Some(tls) = tls
        && tls.client_auth.is_some()
        && tls.client_ca.is_none()
    {
        return Err(Refusal::at(
            "tls.client_auth",
            "needs tls.client_ca, the CAs client certificates are verified against",
        ));
    }
    if !partner.allowed_subjects.is_empty() && tls.and_then(Tls::client_auth).is_none() {
        return Err(Refusal::at(
            "partner.allowed_subjects",
            "needs tls.client_ca: without it no client certificate is asked for",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::{Config, ConfigError};

    const BASE: &str = r#"
[broker]
id = "77777777777"
stations = ["S1"]
"#;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{BASE}{extra}"), "t.toml")
    }

    #[test]
    fn plain_http_without_a_tls_section() {
        let c = parse("").unwrap();
        assert!(c.tls.is_none());
        assert!(c.partner.allowed_networks.is_empty());
    }

    #[test]
    fn client_auth_defaults_to_partner_with_client_cas() {
        let c = parse("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n").unwrap();
        assert_eq!(c.tls.unwrap().client_auth(), None);
        let c = parse("[tls]\ncert = \"c\"\nkey = \"k\"\nclient_ca = \"ca\"\n").unwrap();
        assert_eq!(c.tls.unwrap().client_auth(), Some(ClientAuth::Partner));
        let all = "[tls]\ncert = \"c\"\nkey = \"k\"\nclient_ca = \"ca\"\nclient_auth = \"all\"\n";
        assert_eq!(
            parse(all).unwrap().tls.unwrap().client_auth(),
            Some(ClientAuth::All)
        );
    }

    #[test]
    fn errors_name_the_key() {
        let key = |extra: &str| parse(extra).unwrap_err().key;
        assert_eq!(key("[tls]\nkey = \"k\"\n"), "tls");
        assert!(
            parse("[tls]\nkey = \"k\"\n")
                .unwrap_err()
                .problem
                .contains("cert")
        );
        assert_eq!(
            key("[tls]\ncert = \"c\"\nkey = \"k\"\nclient_auth = \"some\"\n"),
            "tls.client_auth"
        );
        assert_eq!(
            key("[tls]\ncert = \"c\"\nkey = \"k\"\nclient_auth = \"all\"\n"),
            "tls.client_auth"
        );
        assert_eq!(
            key("[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"x\"\n"),
            "tls.ca"
        );
        assert_eq!(
            key("[partner]\nallowed_subjects = [\"CN=nodo\"]\n"),
            "partner.allowed_subjects"
        );
        assert_eq!(
            key(
                "[tls]\ncert = \"c\"\nkey = \"k\"\nclient_ca = \"ca\"\n[partner]\nallowed_subjects = [\"CN=a\", \"nodo\"]\n"
            ),
            "partner.allowed_subjects[1]"
        );
        assert_eq!(
            key("[partner]\nallowed_networks = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"),
            "partner.allowed_networks[1]"
        );
        assert_eq!(
            key("[partner]\nallowed_networks = [\"fd00::/129\"]\n"),
            "partner.allowed_networks[0]"
        );
        assert_eq!(
            key("[partner]\nallowed_network = []\n"),
            "partner.allowed_network"
        );
    }

    #[test]
    fn allowed_networks_match_v4_and_v6() {
        let c = parse(
            "[partner]\nallowed_networks = [\"10.20.0.0/16\", \"fd00:1::/64\", \"192.0.2.7\"]\n",
        )
        .unwrap();
        let allowed = |ip: &str| {
            let ip: IpAddr = ip.parse().unwrap();
            c.partner.allowed_networks.iter().any(|n| n.contains(ip))
        };
        assert!(allowed("10.20.255.1"));
        assert!(allowed("::ffff:10.20.0.1"));
        assert!(!allowed("10.21.0.1"));
        assert!(allowed("fd00:1::abcd"));
        assert!(!allowed("fd00:2::1"));
        assert!(allowed("192.0.2.7"));
        assert!(!allowed("192.0.2.8"));
        let c = parse("[partner]\nallowed_networks = [\"0.0.0.0/0\"]\n").unwrap();
        assert!(c.partner.allowed_networks[0].contains("203.0.113.9".parse().unwrap()));
        assert!(!c.partner.allowed_networks[0].contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn allowed_subjects_are_distinguished_names() {
        let c = parse("[tls]\ncert = \"c\"\nkey = \"k\"\nclient_ca = \"ca\"\n[partner]\nallowed_subjects = [\"cn=nodo, O=PagoPA, C=IT\"]\n")
            .unwrap();
        assert_eq!(
            c.partner.allowed_subjects[0].to_string(),
            "CN=nodo,O=PagoPA,C=IT"
        );
    }
}
