//! A receipt's content digest: SHA-256 over a canonical encoding of its parsed fields. The Node
//! may serialise one receipt differently each time it sends it (prefixes, whitespace, `100.0`
//! or `100.00`), so two documents carry the same receipt exactly when their digests are equal.
//!
//! The encoding is part of the stored data: every stored receipt keeps its digest, so changing
//! what goes in here needs a migration that recomputes them.

use std::fmt;

use super::Text;
use super::party::{MapEntry, Subject};
use super::receipt::{IsoDateTime, Receipt, ReceiptAccount, ReceiptOutcome};

/// The digest of a receipt's content.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptDigest(pub [u8; 32]);

impl ReceiptDigest {
    /// A digest that no parsed receipt has, for a stored document that cannot be parsed any
    /// more: it then never matches another copy, which is kept apart as a conflict.
    pub fn of_unreadable(document: &[u8]) -> ReceiptDigest {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"unreadable receipt document\0");
        ctx.update(document);
        ReceiptDigest::from_ring(ctx.finish())
    }

    fn from_ring(d: ring::digest::Digest) -> ReceiptDigest {
        ReceiptDigest(d.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl fmt::Debug for ReceiptDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

/// Writes fields as (tag, length, bytes): no two different field lists encode alike.
struct Canonical(ring::digest::Context);

impl Canonical {
    fn field(&mut self, tag: &str, value: &str) {
        for part in [tag.as_bytes(), value.as_bytes()] {
            self.0.update(&(part.len() as u64).to_be_bytes());
            self.0.update(part);
        }
    }

    fn optional(&mut self, tag: &str, value: Option<&str>) {
        match value {
            Some(v) => self.field(tag, v),
            None => self.field(tag, "\u{0}absent"),
        }
    }

    fn text<const N: usize>(&mut self, tag: &str, value: Option<&Text<N>>) {
        self.optional(tag, value.map(Text::as_str));
    }

    fn number(&mut self, tag: &str, value: i64) {
        self.field(tag, &value.to_string());
    }

    fn date_time(&mut self, tag: &str, value: Option<&IsoDateTime>) {
        // The instant (or wall-clock time) and whether it is zoned: `…:22` and `…:22.000`
        // are one time, `…Z` and `…+00:00` one instant.
        let v = value.map(|d| {
            format!(
                "{}{}",
                d.time.format("%Y-%m-%dT%H:%M:%S%.f"),
                if d.zoned { "Z" } else { "" }
            )
        });
        self.optional(tag, v.as_deref());
    }

    fn subject(&mut self, tag: &str, s: Option<&Subject>) {
        let Some(s) = s else {
            return self.field(tag, "\u{0}absent");
        };
        self.field(tag, "subject");
        self.field("entityType", s.entity_type.as_str());
        self.field("entityId", s.entity_id.as_str());
        self.field("fullName", s.full_name.as_str());
        self.text("streetName", s.street_name.as_ref());
        self.text("civicNumber", s.civic_number.as_ref());
        self.text("postalCode", s.postal_code.as_ref());
        self.text("city", s.city.as_ref());
        self.text("stateProvinceRegion", s.state_province_region.as_ref());
        self.optional("country", s.country.as_ref().map(|c| c.as_str()));
        self.optional("e-mail", s.email.as_ref().map(|e| e.as_str()));
    }

    fn metadata(&mut self, tag: &str, entries: &[MapEntry]) {
        self.number(tag, entries.len() as i64);
        for e in entries {
            self.field("key", e.key.as_str());
            self.field("value", e.value.as_str());
        }
    }
}

impl Receipt {
    /// The digest of everything the receipt says. The effective Stand-In flag is part of it;
    /// which station the Node addressed is not (each beneficiary may get its own copy).
    pub fn content_digest(&self) -> ReceiptDigest {
        let mut c = Canonical(ring::digest::Context::new(&ring::digest::SHA256));
        c.field("receiptId", &self.receipt_id);
        c.field("noticeNumber", self.notice_number.as_str());
        c.field("fiscalCode", self.fiscal_code.as_str());
        let outcome = match self.outcome {
            ReceiptOutcome::Ok => "OK",
            ReceiptOutcome::Ko => "KO",
        };
        c.field("outcome", outcome);
        c.field("creditorReferenceId", self.creditor_reference_id.as_str());
        c.number("paymentAmount", self.payment_amount.get());
        c.field("description", self.description.as_str());
        c.field("companyName", self.company_name.as_str());
        c.text("officeName", self.office_name.as_ref());
        c.subject("debtor", Some(&self.debtor));
        c.number("transfers", self.transfers.len() as i64);
        for t in &self.transfers {
            c.number("idTransfer", i64::from(t.id.get()));
            c.number("transferAmount", t.amount.get());
            c.field("fiscalCodePA", t.fiscal_code_pa.as_str());
            c.text("companyName", t.company_name.as_ref());
            match &t.account {
                ReceiptAccount::Iban(iban) => c.field("IBAN", iban.as_str()),
                ReceiptAccount::MbdAttachment(b64) => {
                    // Base64 ignores whitespace; a re-serialised copy may wrap it differently.
                    let compact: String = b64.chars().filter(|ch| !ch.is_whitespace()).collect();
                    c.field("MBDAttachment", &compact)
                }
            }
            c.field("remittanceInformation", t.remittance_information.as_str());
            c.field("transferCategory", t.transfer_category.as_str());
            c.metadata("transferMetadata", &t.metadata);
        }
        c.field("idPSP", self.id_psp.as_str());
        c.text("pspFiscalCode", self.psp_fiscal_code.as_ref());
        c.text("pspPartitaIVA", self.psp_partita_iva.as_ref());
        c.field("PSPCompanyName", self.psp_company_name.as_str());
        c.field("idChannel", self.id_channel.as_str());
        c.field("channelDescription", self.channel_description.as_str());
        c.subject("payer", self.payer.as_ref());
        c.text("paymentMethod", self.payment_method.as_ref());
        c.text("paymentNote", self.payment_note.as_ref());
        let cents = |v: Option<super::Cents>| v.map(|c| c.get().to_string());
        c.optional("fee", cents(self.fee).as_deref());
        c.optional(
            "primaryCiIncurredFee",
            cents(self.primary_ci_incurred_fee).as_deref(),
        );
        c.text("idBundle", self.id_bundle.as_ref());
        c.text("idCiBundle", self.id_ci_bundle.as_ref());
        c.date_time("paymentDateTime", self.payment_date_time.as_ref());
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string());
        c.optional("applicationDate", date(self.application_date).as_deref());
        c.optional("transferDate", date(self.transfer_date).as_deref());
        c.metadata("metadata", &self.metadata);
        let stand_in = self.stand_in.map(|s| if s { "true" } else { "false" });
        c.optional("standIn", stand_in);
        ReceiptDigest::from_ring(c.0.finish())
    }

    /// The fields a creditor reads first, named where they differ from `earlier`; "other
    /// fields" when these agree and the digests still differ.
    pub fn differences_from(&self, earlier: &ReceiptFacts) -> String {
        let now = ReceiptFacts::of(self);
        let mut differ = Vec::new();
        let mut compare = |name: &str, before: &str, after: &str| {
            if before != after {
                differ.push(format!("{name} {before} before, {after} now"));
            }
        };
        compare("amount", &earlier.amount, &now.amount);
        compare("IUV", &earlier.iuv, &now.iuv);
        compare("idPSP", &earlier.psp_id, &now.psp_id);
        compare("debtor", &earlier.debtor, &now.debtor);
        compare(
            "paymentDateTime",
            earlier.payment_date_time.as_deref().unwrap_or("(none)"),
            now.payment_date_time.as_deref().unwrap_or("(none)"),
        );
        if differ.is_empty() {
            "other fields differ (transfers, subjects, PSP or metadata)".to_owned()
        } else {
            differ.join(", ")
        }
    }
}

/// The facts of a receipt that the store keeps in columns, to say how a conflicting copy
/// differs from the one received first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFacts {
    /// As written in the XML (`100.00`).
    pub amount: String,
    pub iuv: String,
    pub psp_id: String,
    pub debtor: String,
    pub payment_date_time: Option<String>,
}

impl ReceiptFacts {
    /// Whether two copies of one receipt (same creditor, notice and receiptId), one of them
    /// recovered from the platform's receipts service, record the same payment: same amount,
    /// IUV, PSP and debtor. The platform's copy is a rendering of the Node's receipt that
    /// lacks some of its fields (paymentNote, transfers' companyName, standIn) and writes
    /// others its own way (dates, amounts as JSON numbers), so its digest cannot match the
    /// Node's; these facts are what both keep alike.
    pub fn same_payment(&self, other: &ReceiptFacts) -> bool {
        (&self.amount, &self.iuv, &self.psp_id, &self.debtor)
            == (&other.amount, &other.iuv, &other.psp_id, &other.debtor)
    }

    pub fn of(receipt: &Receipt) -> ReceiptFacts {
        ReceiptFacts {
            amount: receipt.payment_amount.to_string(),
            iuv: receipt.creditor_reference_id.to_string(),
            psp_id: receipt.id_psp.to_string(),
            debtor: receipt.debtor.entity_id.as_str().to_owned(),
            payment_date_time: receipt
                .payment_date_time
                .as_ref()
                .map(|d| d.lexical.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Cents;
    use crate::domain::receipt::tests::{receipt, transfer};

    fn sample() -> Receipt {
        receipt(vec![transfer(
            1,
            "77777777777",
            ReceiptAccount::MbdAttachment("QUJD\nREVG".to_owned()),
        )])
    }

    #[test]
    fn equal_content_equal_digest_whatever_the_serialisation() {
        let a = sample();
        let mut b = sample();
        b.transfers[0].account = ReceiptAccount::MbdAttachment(" QUJDREVG ".to_owned());
        assert_eq!(a.content_digest(), b.content_digest());
    }

    #[test]
    fn every_field_counts() {
        let a = sample();
        let changes: [fn(&mut Receipt); 7] = [
            |r| r.payment_amount = Cents::new(1).unwrap(),
            |r| r.receipt_id.push('x'),
            |r| r.stand_in = Some(true),
            |r| r.fee = Some(Cents::new(0).unwrap()),
            |r| r.transfers[0].amount = Cents::new(99).unwrap(),
            |r| r.debtor.email = Some(crate::domain::party::Email::parse("a@b.it").unwrap()),
            |r| {
                r.metadata.push(MapEntry {
                    key: crate::domain::Text::new("k").unwrap(),
                    value: crate::domain::Text::new("v").unwrap(),
                })
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut b = sample();
            change(&mut b);
            assert_ne!(a.content_digest(), b.content_digest(), "change {i}");
        }
    }

    #[test]
    fn a_value_counts_in_its_own_field_only() {
        let mut a = sample();
        let mut b = sample();
        a.payment_note = Some(crate::domain::Text::new("x").unwrap());
        b.payment_method = Some(crate::domain::Text::new("x").unwrap());
        assert_ne!(a.content_digest(), b.content_digest());
    }

    #[test]
    fn differences_name_the_fields() {
        let before = ReceiptFacts::of(&sample());
        let mut now = sample();
        now.payment_amount = Cents::new(100).unwrap();
        assert_eq!(
            now.differences_from(&before),
            "amount 3.00 before, 1.00 now"
        );
        assert_eq!(
            sample().differences_from(&before),
            "other fields differ (transfers, subjects, PSP or metadata)"
        );
    }

    #[test]
    fn unreadable_documents_never_match_a_receipt() {
        let d = ReceiptDigest::of_unreadable(b"<x/>");
        assert_ne!(d, sample().content_digest());
        assert_ne!(d, ReceiptDigest::of_unreadable(b"<x />"));
    }
}
