//! The event journal ("giornale degli eventi") the SANP asks creditors to keep: one entry per
//! SOAP primitive the Node sends, per delivery attempt to a broadcast station and per REST call
//! on a creditor's routes. An entry holds identifiers of the creditor's own records (notice
//! number, IUV, receipt id, a digest of the IUPD), who called and what came of it; never a
//! body, a name or a debtor's fiscal code.

use chrono::NaiveDateTime;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A SOAP primitive the Node sent on `/partner`.
    Primitive,
    /// One attempt of a delivery to a broadcast station.
    Delivery,
    /// A REST call on a creditor's route.
    Rest,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [EventKind::Primitive, EventKind::Delivery, EventKind::Rest];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Primitive => "PRIMITIVE",
            EventKind::Delivery => "DELIVERY",
            EventKind::Rest => "REST",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What came of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A primitive answered OK, a REST call answered below 400.
    Ok,
    /// A primitive answered KO (or not as a primitive at all), a REST call 400 or more.
    Ko,
    /// The station took the receipt.
    Delivered,
    /// The station answered KO.
    Rejected,
    /// No answer, or one that was not the primitive's: tried again later, or given up.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Ko,
        Outcome::Delivered,
        Outcome::Rejected,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Ko => "KO",
            Outcome::Delivered => "DELIVERED",
            Outcome::Rejected => "REJECTED",
            Outcome::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// A REST call's, by its HTTP status.
    pub fn of_status(status: u16) -> Outcome {
        if status < 400 {
            Outcome::Ok
        } else {
            Outcome::Ko
        }
    }
}

/// One entry. Which fields are set depends on the kind; none holds personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub at: NaiveDateTime,
    pub kind: EventKind,
    /// The creditor: the primitive's idPA, the station's creditor, the path's fiscal code.
    /// None for a SOAP request that named none it could be read from.
    pub organization: Option<String>,
    /// The primitive (paVerifyPaymentNotice, …): received, or sent to a station.
    pub primitive: Option<String>,
    /// The primitive's idBrokerPA, or the station's broker.
    pub broker_id: Option<String>,
    /// The primitive's idStation, or the broadcast station's id.
    pub station_id: Option<String>,
    pub notice_number: Option<String>,
    pub iuv: Option<String>,
    /// The SHA-256 of the IUPD of a REST path, in hex: an IUPD often holds a debtor's fiscal
    /// code, so the journal keeps what finds the calls on a position, not the IUPD.
    pub iupd_digest: Option<String>,
    pub receipt_id: Option<String>,
    /// The API key's id (REST).
    pub key_id: Option<String>,
    /// The HTTP method and route pattern (REST).
    pub method: Option<String>,
    pub route: Option<String>,
    /// The HTTP status answered (primitive, REST) or received from the station (delivery).
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub fault_code: Option<String>,
    /// What kind of failure a delivery met (timeout, connection, …).
    pub error: Option<String>,
    /// The attempt's number, from 1 (delivery).
    pub attempt: Option<u32>,
    pub duration_us: u64,
}

impl JournalEntry {
    /// An entry of `kind` with only its time, outcome and duration set.
    pub fn new(kind: EventKind, at: NaiveDateTime, outcome: Outcome, duration_us: u64) -> Self {
        JournalEntry {
            at,
            kind,
            organization: None,
            primitive: None,
            broker_id: None,
            station_id: None,
            notice_number: None,
            iuv: None,
            iupd_digest: None,
            receipt_id: None,
            key_id: None,
            method: None,
            route: None,
            status: None,
            outcome,
            fault_code: None,
            error: None,
            attempt: None,
            duration_us,
        }
    }
}

/// The creditor's entries to list: all optional, combined with AND; times inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalFilter {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub kind: Option<EventKind>,
    pub primitive: Option<String>,
    pub notice_number: Option<String>,
    pub iuv: Option<String>,
    pub iupd_digest: Option<String>,
    pub receipt_id: Option<String>,
    pub outcome: Option<Outcome>,
    pub key_id: Option<String>,
}

/// The instant before which entries are pruned: `months` calendar months before `now`.
pub fn retention_cutoff(now: NaiveDateTime, months: u32) -> NaiveDateTime {
    now.checked_sub_months(chrono::Months::new(months))
        .unwrap_or(NaiveDateTime::MIN)
}

/// What the journal keeps of an IUPD: its SHA-256, in hex.
pub fn iupd_digest(iupd: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, iupd.as_bytes());
    super::api_key::hex(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::at;

    #[test]
    fn names_read_back() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(EventKind::parse("rest"), None);
        assert_eq!(Outcome::parse("ok"), None);
        assert_eq!(Outcome::of_status(204), Outcome::Ok);
        assert_eq!(Outcome::of_status(404), Outcome::Ko);
    }

    #[test]
    fn retention_counts_calendar_months() {
        assert_eq!(retention_cutoff(at(2026, 3, 31), 1), at(2026, 2, 28));
        assert_eq!(retention_cutoff(at(2026, 12, 7), 24), at(2024, 12, 7));
    }
}
