//! Broadcast routing: the creditors' broadcast stations, who gets a copy of a receipt, the
//! states a delivery goes through and the retry schedule. Pure rules; the store keeps the
//! table and the outbox, `crate::broadcast` sends.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::position::Conflict;
use super::receipt::{Receipt, ReceiptVersion};
use super::text::str_newtype;
use super::{FiscalCodePA, Text};
use crate::domain::messages::RequestIds;

/// What follows an `https://` or `http://` scheme; None for any other scheme.
pub fn after_http_scheme(s: &str) -> Option<&str> {
    s.strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
}

/// Where a station is reached: an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationUrl(String);

impl StationUrl {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let rest = after_http_scheme(s).ok_or("must be an http:// or https:// URL")?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() {
            return Err("must name a host");
        }
        if s.len() > 2048
            || s.bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("must be at most 2048 characters without spaces");
        }
        Ok(StationUrl(s.to_owned()))
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The host: a name, an IPv4 address or an IPv6 address without its brackets.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if let Some(v6) = host_port.strip_prefix('[') {
            return v6.split(']').next().unwrap_or_default();
        }
        host_port.split(':').next().unwrap_or_default()
    }
}

/// The longest a station may take to answer: the Node gives us 15 s for a receipt in all.
pub const MAX_STATION_TIMEOUT: Duration = Duration::from_secs(15);

/// How long after an attempt's end its result may take to be recorded.
const RECORD_MARGIN: Duration = Duration::from_secs(2);

/// How long a delivery is left to the attempt that took it before anyone else may, unless
/// configured otherwise: the longest attempt and the margin for recording its result.
pub const ATTEMPT_LEASE: Duration =
    Duration::from_secs(MAX_STATION_TIMEOUT.as_secs() + RECORD_MARGIN.as_secs());

/// The shortest lease: one second of attempt beside the recording margin.
pub const MIN_LEASE: Duration = Duration::from_secs(RECORD_MARGIN.as_secs() + 1);

/// How long an attempt of a delivery taken for `lease` may last: it ends, and its result is
/// recorded, before the lease does, so no one else sends the delivery while it is in flight.
pub fn attempt_limit(station: &BroadcastStation, lease: Duration) -> Duration {
    station.timeout.min(lease.saturating_sub(RECORD_MARGIN))
}

/// When the retry worker may first take a new delivery: once the attempt started beside the
/// Node's answer has surely ended and been recorded. A delivery that was not attempted then
/// (its station down or busy) waits for this too.
pub fn first_retry_at(station: &BroadcastStation, created_at: NaiveDateTime) -> NaiveDateTime {
    created_at
        + chrono::Duration::from_std(station.timeout + RECORD_MARGIN).expect("at most seconds")
}

/// A creditor's broadcast station: its own system, which wants every receipt that concerns the
/// creditor, as `idPA` = the creditor, on `idBrokerPA` / `idStation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastStation {
    pub organization: FiscalCodePA,
    pub station_id: Text<35>,
    pub broker_id: Text<35>,
    pub url: StationUrl,
    /// The primitive the station speaks: paSendRT (V1) or paSendRTV2 (V2).
    pub version: ReceiptVersion,
    /// 1 ms ..= [`MAX_STATION_TIMEOUT`].
    pub timeout: Duration,
    pub enabled: bool,
}

impl BroadcastStation {
    /// The request ids this station is addressed with.
    pub fn recipient_ids(&self) -> RequestIds {
        RequestIds {
            id_pa: Text::new(self.organization.as_str()).expect("11 digits fit"),
            id_broker_pa: self.broker_id.clone(),
            id_station: self.station_id.clone(),
        }
    }
}

/// Checks a station timeout given in milliseconds.
pub fn station_timeout(ms: u64) -> Result<Duration, String> {
    let timeout = Duration::from_millis(ms);
    if ms == 0 || timeout > MAX_STATION_TIMEOUT {
        return Err(format!(
            "must be between 1 and {} milliseconds",
            MAX_STATION_TIMEOUT.as_millis()
        ));
    }
    Ok(timeout)
}

/// Where a delivery stands. PENDING is the only state the retry worker acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Pending,
    /// The station answered OK.
    Delivered,
    /// The station answered a well-formed KO: final, not retried unless asked.
    Rejected,
    /// The receipt has no form the station can take (a stamp for a V1 station).
    Undeliverable,
    /// Every attempt allowed failed.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Rejected,
        DeliveryState::Undeliverable,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Delivered => "DELIVERED",
            DeliveryState::Rejected => "REJECTED",
            DeliveryState::Undeliverable => "UNDELIVERABLE",
            DeliveryState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether an operator may queue a delivery in this state again: not one still pending,
    /// nor one the station can never take (`last_error` says why).
    pub fn may_redeliver(self, last_error: Option<&str>) -> Result<(), Conflict> {
        match self {
            DeliveryState::Pending => Err(Conflict("the delivery is already pending".into())),
            DeliveryState::Undeliverable => Err(Conflict(format!(
                "the delivery is undeliverable: {}",
                last_error.unwrap_or_default()
            ))),
            DeliveryState::Delivered | DeliveryState::Rejected | DeliveryState::Failed => Ok(()),
        }
    }
}

/// One station that must get a receipt, and whether it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub station: &'a BroadcastStation,
    /// `Err(reason)`: recorded as UNDELIVERABLE, never attempted.
    pub deliverable: Result<(), String>,
}

/// Who gets a copy of `receipt`: the enabled broadcast stations of the notice's creditor and of
/// every beneficiary (a `fiscalCodePA` of the transfers), once per (creditor, station), except
/// the station the receipt came in on for that same creditor.
pub fn recipients<'a>(
    receipt: &Receipt,
    sender: &RequestIds,
    stations: &'a [BroadcastStation],
) -> Vec<Route<'a>> {
    let concerned = receipt.concerned_creditors();
    let mut routes: Vec<Route<'a>> = Vec::new();
    for station in stations {
        let is_sender = station.organization.as_str() == sender.id_pa.as_str()
            && station.station_id == sender.id_station;
        let seen = routes.iter().any(|r| {
            r.station.organization == station.organization
                && r.station.station_id == station.station_id
        });
        if !station.enabled || is_sender || seen || !concerned.contains(&&station.organization) {
            continue;
        }
        let deliverable = if station.version == ReceiptVersion::V1 && receipt.has_mbd_attachment() {
            Err(
                "the receipt pays a revenue stamp (MBDAttachment), which paSendRT \
                 (primitive version 1) cannot carry"
                    .to_owned(),
            )
        } else {
            Ok(())
        };
        routes.push(Route {
            station,
            deliverable,
        });
    }
    routes
}

/// How failed deliveries are retried: attempt n+1 comes `base × 2^(n-1)` after attempt n
/// fails, at most `max_delay`, until `max_attempts` attempts were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before the next attempt after `attempts` failed ones, or None when none is left.
    pub fn next_delay(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1u32 << attempts.saturating_sub(1).min(30);
        Some(self.base.saturating_mul(factor).min(self.max_delay))
    }
}

str_newtype!(StationUrl);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::receipt::ReceiptAccount;
    use crate::domain::receipt::tests::{receipt, transfer};

    const P: &str = "77777777777";
    const S1: &str = "88888888888";
    const S2: &str = "99999999999";

    fn station(org: &str, id: &str, version: ReceiptVersion) -> BroadcastStation {
        BroadcastStation {
            organization: FiscalCodePA::parse(org).unwrap(),
            station_id: Text::new(id).unwrap(),
            broker_id: Text::new(org).unwrap(),
            url: StationUrl::parse("http://127.0.0.1:1/x").unwrap(),
            version,
            timeout: Duration::from_secs(1),
            enabled: true,
        }
    }

    #[test]
    fn url_host_and_scheme() {
        for (url, host, https) in [
            ("https://a.example.org/x", "a.example.org", true),
            ("http://u:p@10.0.0.1:8080/x?y", "10.0.0.1", false),
            ("https://[::1]:8443/x", "::1", true),
            ("https://h#f", "h", true),
        ] {
            let u = StationUrl::parse(url).unwrap();
            assert_eq!((u.host(), u.is_https()), (host, https), "{url}");
        }
    }

    fn v2(org: &str, id: &str) -> BroadcastStation {
        station(org, id, ReceiptVersion::V2)
    }

    fn with_beneficiaries(orgs: &[&str]) -> Receipt {
        let iban = || ReceiptAccount::Iban(Text::new("IT60X0542811101000000123456").unwrap());
        let transfers = orgs
            .iter()
            .enumerate()
            .map(|(i, org)| transfer(i as i64 + 1, org, iban()))
            .collect();
        receipt(transfers)
    }

    fn sender() -> RequestIds {
        RequestIds {
            id_pa: Text::new(P).unwrap(),
            id_broker_pa: Text::new(P).unwrap(),
            id_station: Text::new("77777777777_01").unwrap(),
        }
    }

    fn routed(orgs: &[&str], stations: &[BroadcastStation]) -> Vec<(String, String)> {
        recipients(&with_beneficiaries(orgs), &sender(), stations)
            .into_iter()
            .map(|r| {
                assert!(r.deliverable.is_ok());
                (
                    r.station.organization.to_string(),
                    r.station.station_id.to_string(),
                )
            })
            .collect()
    }

    // The table of who receives a receipt (research notes, protocol §2.2). The Node's own copy
    // to the primary creditor is the one we received; the counts here are the copies we send.
    #[test]
    fn no_broadcast_station_no_copy() {
        assert!(routed(&[P, S1, S2], &[]).is_empty());
    }

    #[test]
    fn one_station_of_each_secondary() {
        let stations = [v2(S1, "S1_01"), v2(S2, "S2_01")];
        assert_eq!(routed(&[P, S1, S2], &stations).len(), 2);
    }

    #[test]
    fn two_stations_of_one_secondary() {
        let stations = [v2(S1, "S1_01"), v2(S1, "S1_02")];
        assert_eq!(routed(&[P, S1], &stations).len(), 2);
        assert_eq!(routed(&[P, S1, S1], &stations).len(), 2);
    }

    #[test]
    fn once_per_creditor_and_station_not_per_transfer() {
        let stations = [v2(S1, "S1_01")];
        assert_eq!(
            routed(&[P, S1, S1], &stations),
            [(S1.to_owned(), "S1_01".to_owned())]
        );
        assert_eq!(routed(&[P, P, S1], &stations).len(), 1);
        // The same station listed twice still gets one copy.
        assert_eq!(
            routed(&[P, S1], &[v2(S1, "S1_01"), v2(S1, "S1_01")]).len(),
            1
        );
    }

    #[test]
    fn a_creditor_that_is_not_a_beneficiary_gets_nothing() {
        assert!(routed(&[P], &[v2(S1, "S1_01")]).is_empty());
    }

    #[test]
    fn the_notice_creditor_gets_its_broadcast_copies_but_not_back_on_the_sender() {
        let stations = [v2(P, "P_BROADCAST"), v2(P, "77777777777_01")];
        assert_eq!(
            routed(&[S1], &stations),
            [(P.to_owned(), "P_BROADCAST".to_owned())]
        );
    }

    #[test]
    fn disabled_stations_are_skipped() {
        let mut off = v2(S1, "S1_01");
        off.enabled = false;
        assert!(routed(&[P, S1], &[off]).is_empty());
    }

    #[test]
    fn a_stamp_cannot_go_to_a_v1_station() {
        let mut r = with_beneficiaries(&[P, S1]);
        r.transfers[1].account = ReceiptAccount::MbdAttachment("QQ==".into());
        let stations = [station(S1, "S1_V1", ReceiptVersion::V1), v2(S1, "S1_V2")];
        let routes = recipients(&r, &sender(), &stations);
        assert_eq!(routes.len(), 2);
        assert!(
            routes[0]
                .deliverable
                .as_ref()
                .unwrap_err()
                .contains("MBDAttachment")
        );
        assert!(routes[1].deliverable.is_ok());
    }

    #[test]
    fn recipient_ids_are_the_station_owners() {
        let ids = v2(S1, "S1_01").recipient_ids();
        assert_eq!(
            (
                ids.id_pa.as_str(),
                ids.id_broker_pa.as_str(),
                ids.id_station.as_str()
            ),
            (S1, S1, "S1_01")
        );
    }

    #[test]
    fn retry_delays_double_up_to_the_cap_and_stop() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        let delays: Vec<_> = (1..=5).map(|n| policy.next_delay(n)).collect();
        let s = Duration::from_secs;
        assert_eq!(
            delays,
            [Some(s(1)), Some(s(2)), Some(s(4)), Some(s(5)), None]
        );
    }

    #[test]
    fn urls_and_timeouts() {
        assert!(StationUrl::parse("https://ec.example.it/pa/receipts").is_ok());
        assert!(StationUrl::parse("http://127.0.0.1:8080").is_ok());
        for bad in ["ftp://x", "http://", "https:///x", "http://a b", "x"] {
            assert!(StationUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(station_timeout(0).is_err());
        assert!(station_timeout(15_001).is_err());
        assert_eq!(station_timeout(1500), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn only_a_delivery_that_ended_and_could_be_taken_is_queued_again() {
        for state in DeliveryState::ALL {
            let allowed = state.may_redeliver(Some("a stamp"));
            match state {
                DeliveryState::Pending | DeliveryState::Undeliverable => {
                    assert!(allowed.is_err(), "{state:?}")
                }
                _ => assert_eq!(allowed, Ok(()), "{state:?}"),
            }
        }
        let why = DeliveryState::Undeliverable.may_redeliver(Some("a stamp"));
        assert!(why.unwrap_err().0.contains("a stamp"));
    }
}
