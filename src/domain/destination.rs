//! Where receipts may be sent. A receipt carries the payer's personal data, so by default a
//! broadcast station must be reached over https at a public address: loopback, link-local
//! (cloud metadata services live there), unspecified, private, shared, multicast and broadcast
//! destinations are refused. The operator may allow networks, in the configuration only, for
//! stations inside a private network; plain http is then allowed towards those networks alone.
//!
//! The rule is applied to the URL when a station is registered and to every address the host
//! resolves to when a delivery connects, because DNS can change in between.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::broadcast::StationUrl;

/// An IP network in CIDR notation (`10.1.0.0/16`, `fd00::/8`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address = canonical(
            IpAddr::from_str(address)
                .map_err(|_| format!("{s} is not an IP address or network"))?,
        );
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s}: the prefix length must be 0 to {max}"))?,
        };
        Ok(IpNetwork { address, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is not a public one; None for a public address.
pub fn special_use(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("private (shared address space)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || a >= 240 {
        Some("broadcast or reserved")
    } else {
        None
    }
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The networks the operator allows beyond the public internet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    pub allowed_networks: Vec<IpNetwork>,
}

/// Why a destination is refused; the text names the address and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedDestination(pub String);

impl fmt::Display for RefusedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedDestination {}

impl DestinationPolicy {
    fn allowed(&self, ip: IpAddr) -> bool {
        self.allowed_networks.iter().any(|n| n.contains(ip))
    }

    /// Whether a station at this address may be reached, over https or over plain http.
    pub fn check_address(&self, ip: IpAddr, plain_http: bool) -> Result<(), RefusedDestination> {
        if self.allowed(ip) {
            return Ok(());
        }
        if let Some(kind) = special_use(ip) {
            return Err(RefusedDestination(format!(
                "{ip} is a {kind} address, and no allowed network of the configuration holds it"
            )));
        }
        if plain_http {
            return Err(RefusedDestination(format!(
                "plain http to {ip}: receipts go over https, except to the configured allowed networks"
            )));
        }
        Ok(())
    }

    /// What can be told from the URL alone: its scheme, and its host when that is an address
    /// (or `localhost`). A host name is checked again on every address it resolves to.
    pub fn check_url(&self, url: &StationUrl) -> Result<(), RefusedDestination> {
        let plain_http = !url.is_https();
        let host = url.host();
        if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            return self.check_address(IpAddr::V4(Ipv4Addr::LOCALHOST), plain_http);
        }
        match IpAddr::from_str(host) {
            Ok(ip) => self.check_address(ip, plain_http),
            // A name: over http it must resolve into an allowed network, which only the
            // connection can tell; there is no such network when none is configured.
            Err(_) if plain_http && self.allowed_networks.is_empty() => Err(RefusedDestination(
                "plain http: receipts go over https, except to the configured allowed networks (none is configured)".into(),
            )),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> StationUrl {
        StationUrl::parse(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_addresses_are_named() {
        for (addr, kind) in [
            ("127.0.0.1", Some("loopback")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("private (shared address space)")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("broadcast or reserved")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("private (unique local)")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("93.184.216.34", None),
            ("2001:db8::1", None),
        ] {
            assert_eq!(special_use(ip(addr)), kind, "{addr}");
        }
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: IpNetwork = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let one: IpNetwork = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(!one.contains(ip("127.0.0.2")));
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: IpNetwork = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("example.org/8".parse::<IpNetwork>().is_err());
    }

    #[test]
    fn by_default_only_https_to_public_addresses() {
        let policy = DestinationPolicy::default();
        assert!(
            policy
                .check_url(&url("https://station.example.org/rt"))
                .is_ok()
        );
        assert!(policy.check_url(&url("https://93.184.216.34/rt")).is_ok());
        for refused in [
            "http://station.example.org/rt",
            "https://127.0.0.1:8443/rt",
            "https://localhost/rt",
            "https://[::1]/rt",
            "https://169.254.169.254/latest",
            "https://user@10.0.0.1:443/rt",
            "http://93.184.216.34/rt",
        ] {
            let e = policy.check_url(&url(refused)).unwrap_err();
            assert!(!e.0.is_empty(), "{refused}");
        }
        let e = policy
            .check_url(&url("https://169.254.169.254/"))
            .unwrap_err();
        assert!(
            e.0.contains("169.254.169.254 is a link-local address"),
            "{e}"
        );
    }

    #[test]
    fn allowed_networks_admit_plain_http_there_only() {
        let policy = DestinationPolicy {
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.check_url(&url("http://127.0.0.1:9000/rt")).is_ok());
        assert!(policy.check_url(&url("http://localhost:9000/rt")).is_ok());
        assert!(policy.check_url(&url("http://10.0.0.1/rt")).is_err());
        assert!(policy.check_address(ip("93.184.216.34"), true).is_err());
        assert!(policy.check_address(ip("93.184.216.34"), false).is_ok());
        // A name over http: decided when it resolves.
        assert!(policy.check_url(&url("http://station.internal/rt")).is_ok());
    }
}
