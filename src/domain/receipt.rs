//! The receipt the Node delivers with paSendRT (ctReceipt) and paSendRTV2 (ctReceiptV2), as a
//! typed value. One model serves both versions: a V1 receipt simply has none of the V2-only
//! fields and only IBAN transfers. Pure data plus the few questions a primitive asks of it.

use chrono::{NaiveDate, NaiveDateTime};

use super::messages::{PaTransfer, RequestIds};
use super::party::{MapEntry, Subject};
use super::position::{DebtPosition, NotPayable, OptionPayment};
use super::{Cents, FiscalCodePA, NoticeNumber, Text};

/// Which primitive carried the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptVersion {
    /// paSendRTReq with a ctReceipt.
    V1,
    /// paSendRTV2Request with a ctReceiptV2.
    V2,
}

impl ReceiptVersion {
    /// The primitive version as the configuration, the REST API and the store number it.
    pub fn number(self) -> u8 {
        match self {
            ReceiptVersion::V1 => 1,
            ReceiptVersion::V2 => 2,
        }
    }

    pub fn from_number(n: u64) -> Result<ReceiptVersion, String> {
        match n {
            1 => Ok(ReceiptVersion::V1),
            2 => Ok(ReceiptVersion::V2),
            _ => Err("must be 1 (paSendRT) or 2 (paSendRTV2)".into()),
        }
    }
}

/// stOutcome of the receipt; always OK in practice (the new model has no negative receipts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Ok,
    Ko,
}

/// An xsd:dateTime as the Node sent it. The lexical form is kept because the Node writes
/// Italian local time without an offset, which no instant can stand for faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoDateTime {
    /// The value as received, without the surrounding whitespace the XSD ignores.
    pub lexical: String,
    /// The instant in UTC when the value has a time zone (`Z` or `±hh:mm`); the wall-clock
    /// time as written when it has none. `24:00:00` is midnight of the next day.
    pub time: NaiveDateTime,
    /// Whether the value has a time zone, i.e. whether `time` is UTC.
    pub zoned: bool,
}

/// Where a transfer's money went: a bank or postal account, or a digital revenue stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptAccount {
    Iban(Text<35>),
    /// The purchased marca da bollo (V2 only): base64 of the Agenzia delle Entrate
    /// `marcaDaBollo` XML, as received (whitespace included). The XSD allows it empty.
    MbdAttachment(String),
}

/// A transfer of a receipt (ctTransferPA in V1, ctTransferPAReceiptV2 in V2); its amount is
/// never zero (stAmountNotZero).
pub type ReceiptTransfer = PaTransfer<ReceiptAccount>;

/// A payment receipt (ctReceiptV2; ctReceipt is its V1 subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The unique receipt id (the payment token), the idempotency key. Kept as received: the
    /// XSD types it xsd:string, so it may even be empty; whether such an id is usable is the
    /// primitive's decision, not a syntax error.
    pub receipt_id: String,
    pub notice_number: NoticeNumber,
    /// The notice's owner (the primary creditor), not necessarily the recipient.
    pub fiscal_code: FiscalCodePA,
    pub outcome: ReceiptOutcome,
    /// The IUV.
    pub creditor_reference_id: Text<35>,
    /// May be zero (stAmount).
    pub payment_amount: Cents,
    pub description: Text<140>,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
    pub debtor: Subject,
    /// 1..5 transfers, in document order.
    pub transfers: Vec<ReceiptTransfer>,
    pub id_psp: Text<35>,
    pub psp_fiscal_code: Option<Text<70>>,
    pub psp_partita_iva: Option<Text<20>>,
    pub psp_company_name: Text<70>,
    pub id_channel: Text<35>,
    pub channel_description: Text<35>,
    pub payer: Option<Subject>,
    pub payment_method: Option<Text<35>>,
    /// V2 only.
    pub payment_note: Option<Text<210>>,
    /// The PSP's commission paid by the user.
    pub fee: Option<Cents>,
    /// V2 only: the share of the fee borne by the primary creditor.
    pub primary_ci_incurred_fee: Option<Cents>,
    /// V2 only.
    pub id_bundle: Option<Text<70>>,
    /// V2 only.
    pub id_ci_bundle: Option<Text<70>>,
    pub payment_date_time: Option<IsoDateTime>,
    pub application_date: Option<NaiveDate>,
    pub transfer_date: Option<NaiveDate>,
    /// Empty when the receipt has no metadata element (which holds 1..15 entries).
    pub metadata: Vec<MapEntry>,
    /// `receipt/standIn` (SANP 3.9+): the payment was taken in Stand-In mode.
    pub stand_in: Option<bool>,
}

impl Receipt {
    /// The distinct beneficiaries (fiscalCodePA of the transfers), in order of first transfer.
    pub fn beneficiaries(&self) -> Vec<&FiscalCodePA> {
        let mut seen: Vec<&FiscalCodePA> = Vec::with_capacity(self.transfers.len());
        for transfer in &self.transfers {
            if !seen.contains(&&transfer.fiscal_code_pa) {
                seen.push(&transfer.fiscal_code_pa);
            }
        }
        seen
    }

    /// The creditors the receipt concerns: the notice's creditor, then each beneficiary of its
    /// transfers, once each. They may be its recipient, see it and have it forwarded.
    pub fn concerned_creditors(&self) -> Vec<&FiscalCodePA> {
        let mut concerned = vec![&self.fiscal_code];
        for beneficiary in self.beneficiaries() {
            if !concerned.contains(&beneficiary) {
                concerned.push(beneficiary);
            }
        }
        concerned
    }

    pub fn concerns(&self, organization: &str) -> bool {
        self.concerned_creditors()
            .iter()
            .any(|c| c.as_str() == organization)
    }

    /// Whether a transfer paid a revenue stamp, which only a V2 recipient can be told about.
    pub fn has_mbd_attachment(&self) -> bool {
        self.transfers
            .iter()
            .any(|t| matches!(t.account, ReceiptAccount::MbdAttachment(_)))
    }
}

/// What a stored receipt did to the debt position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// It paid its payment option.
    Applied,
    /// Kept and shown to the creditor, but it could not pay an option (see [`Flag`]).
    Flagged,
    /// A second, different receipt for an option already paid: kept for audit only.
    Duplicate,
    /// A copy of a receipt already stored (same creditor, notice and receipt id) whose content
    /// differs: kept beside the first for audit, applied to nothing.
    Conflict,
}

impl ReceiptStatus {
    pub const ALL: [ReceiptStatus; 4] = [
        ReceiptStatus::Applied,
        ReceiptStatus::Flagged,
        ReceiptStatus::Duplicate,
        ReceiptStatus::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Applied => "APPLIED",
            ReceiptStatus::Flagged => "FLAGGED",
            ReceiptStatus::Duplicate => "DUPLICATE",
            ReceiptStatus::Conflict => "CONFLICT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether receipts of this status are forwarded to broadcast stations: a duplicate or a
    /// conflicting copy is kept for audit only, and nobody is told about it.
    pub fn is_forwarded(self) -> bool {
        match self {
            ReceiptStatus::Applied | ReceiptStatus::Flagged => true,
            ReceiptStatus::Duplicate | ReceiptStatus::Conflict => false,
        }
    }
}

/// Where a stored receipt came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOrigin {
    /// The Node's paSendRT or paSendRTV2.
    Node,
    /// The platform's receipts service: a receipt the Node never delivered, recovered by IUR.
    Platform,
}

impl ReceiptOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptOrigin::Node => "NODE",
            ReceiptOrigin::Platform => "PLATFORM",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ReceiptOrigin::Node, ReceiptOrigin::Platform]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Why a receipt was flagged instead of applied. The payment happened (Stand-In, another
/// channel): the receipt is kept and answered OK, and the creditor decides what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// A stable code for filters: UNKNOWN_NOTICE, NOT_PAYABLE, NEGATIVE_OUTCOME.
    pub code: &'static str,
    pub description: String,
}

impl Flag {
    fn new(code: &'static str, description: impl Into<String>) -> Flag {
        Flag {
            code,
            description: description.into(),
        }
    }
}

/// What a new receipt (its id not stored yet) did: the status to store it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub status: ReceiptStatus,
    pub flag: Option<Flag>,
    /// The option the receipt paid (its index in the position, which was changed in place):
    /// the change to write back.
    pub paid_option: Option<usize>,
}

impl Settlement {
    /// Kept with `status`, changing nothing.
    pub fn kept(status: ReceiptStatus) -> Settlement {
        Settlement {
            status,
            flag: None,
            paid_option: None,
        }
    }
}

impl Receipt {
    /// What the receipt records on the option it pays.
    pub fn option_payment(&self, received_at: NaiveDateTime) -> OptionPayment {
        OptionPayment {
            payment_date: self
                .payment_date_time
                .as_ref()
                .map_or(received_at, |d| d.time),
            payment_method: self.payment_method.as_ref().map(|m| m.to_string()),
            psp_company: Some(self.psp_company_name.to_string()),
            receipt_id: self.receipt_id.clone(),
            fee: self.fee.unwrap_or_default(),
        }
    }

    /// Applies the receipt to the position its notice names (None: no such notice here):
    /// pays the option when it can be paid; a different receipt for an option already paid is
    /// a duplicate; anything else is flagged and leaves the position as it was.
    pub fn settle(&self, position: Option<&mut DebtPosition>, now: NaiveDateTime) -> Settlement {
        let flagged = |flag| Settlement {
            flag: Some(flag),
            ..Settlement::kept(ReceiptStatus::Flagged)
        };
        let notice = &self.notice_number;
        if self.outcome == ReceiptOutcome::Ko {
            return flagged(Flag::new(
                "NEGATIVE_OUTCOME",
                "the receipt's outcome is KO: no payment to record",
            ));
        }
        let found = position.and_then(|p| p.option_index(notice).map(|i| (p, i)));
        let Some((position, index)) = found else {
            return flagged(Flag::new(
                "UNKNOWN_NOTICE",
                format!(
                    "notice {notice} of {} is not in the store",
                    self.fiscal_code
                ),
            ));
        };
        if !position.options[index].is_unpaid() {
            return Settlement::kept(ReceiptStatus::Duplicate);
        }
        let refused = match position.payability(index, now) {
            Ok(()) => {
                position
                    .mark_paid(index, self.option_payment(now), now)
                    .expect("payable");
                return Settlement {
                    paid_option: Some(index),
                    ..Settlement::kept(ReceiptStatus::Applied)
                };
            }
            Err(reason) => reason,
        };
        let why = match refused {
            NotPayable::Unknown => "is not published or not yet valid",
            NotPayable::Cancelled => "was invalidated by the creditor",
            NotPayable::Expired => "has expired",
            NotPayable::AlreadyPaid => "was already paid with another option",
            NotPayable::Superseded => "is being paid in installments",
        };
        flagged(Flag::new(
            "NOT_PAYABLE",
            format!("notice {notice}: the debt position {why}; the receipt was not applied"),
        ))
    }
}

/// paSendRTReq or paSendRTV2Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRtRequest {
    /// The recipient: the primary creditor or a broadcast (secondary) one.
    pub ids: RequestIds,
    pub receipt: Receipt,
    pub version: ReceiptVersion,
    /// The effective Stand-In flag: `receipt/standIn`, else the legacy `standin` that the
    /// SANP 3.6–3.8 schemas put after the receipt.
    pub stand_in: Option<bool>,
}

impl SendRtRequest {
    /// The receipt as forwarded to other stations: with the effective Stand-In flag inside it,
    /// where every current schema puts it.
    pub fn forwarded_receipt(&self) -> Receipt {
        Receipt {
            stand_in: self.stand_in,
            ..self.receipt.clone()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::TransferId;
    use crate::domain::party::{EntityId, EntityType};

    fn text<const N: usize>(s: &str) -> Text<N> {
        Text::new(s).unwrap()
    }

    pub fn transfer(id: i64, fiscal_code: &str, account: ReceiptAccount) -> ReceiptTransfer {
        ReceiptTransfer {
            id: TransferId::new(id).unwrap(),
            amount: Cents::new(100).unwrap(),
            fiscal_code_pa: FiscalCodePA::parse(fiscal_code).unwrap(),
            company_name: None,
            account,
            remittance_information: text("r"),
            transfer_category: text("c"),
            metadata: vec![],
        }
    }

    pub fn receipt(transfers: Vec<ReceiptTransfer>) -> Receipt {
        Receipt {
            receipt_id: "token".to_owned(),
            notice_number: NoticeNumber::parse("311111111112222222").unwrap(),
            fiscal_code: FiscalCodePA::parse("77777777777").unwrap(),
            outcome: ReceiptOutcome::Ok,
            creditor_reference_id: text("11111111112222222"),
            payment_amount: Cents::new(300).unwrap(),
            description: text("d"),
            company_name: text("c"),
            office_name: None,
            debtor: Subject::named(
                EntityType::F,
                EntityId::parse("RSSMRA80A01H501U").unwrap(),
                text("Mario Rossi"),
            ),
            transfers,
            id_psp: text("psp"),
            psp_fiscal_code: None,
            psp_partita_iva: None,
            psp_company_name: text("PSP"),
            id_channel: text("ch"),
            channel_description: text("app"),
            payer: None,
            payment_method: None,
            payment_note: None,
            fee: None,
            primary_ci_incurred_fee: None,
            id_bundle: None,
            id_ci_bundle: None,
            payment_date_time: None,
            application_date: None,
            transfer_date: None,
            metadata: vec![],
            stand_in: None,
        }
    }

    #[test]
    fn beneficiaries_are_distinct_in_order() {
        let iban = || ReceiptAccount::Iban(text("IT60X0542811101000000123456"));
        let r = receipt(vec![
            transfer(1, "88888888888", iban()),
            transfer(2, "77777777777", iban()),
            transfer(3, "88888888888", iban()),
        ]);
        let codes: Vec<&str> = r.beneficiaries().iter().map(|c| c.as_str()).collect();
        assert_eq!(codes, ["88888888888", "77777777777"]);
        assert!(!r.has_mbd_attachment());
    }

    mod settle {
        use super::*;
        use crate::domain::position::tests::{at, option, position};
        use crate::domain::position::{OptionStatus, PositionStatus};

        fn valid(options: Vec<crate::domain::position::PaymentOption>) -> DebtPosition {
            let mut p = position(options);
            p.status = PositionStatus::Valid;
            p
        }

        fn for_option(nav: &NoticeNumber) -> Receipt {
            let mut r = receipt(vec![]);
            r.notice_number = nav.clone();
            r
        }

        #[test]
        fn pays_a_single_option_then_a_second_receipt_is_a_duplicate() {
            let now = at(2029, 6, 1);
            let mut p = valid(vec![option(1, 300, at(2030, 1, 1), false)]);
            let r = for_option(&p.options[0].nav);
            assert_eq!(r.settle(Some(&mut p), now).status, ReceiptStatus::Applied);
            assert_eq!(p.status, PositionStatus::Paid);
            let paid = p.options[0].payment.as_ref().unwrap();
            assert_eq!(
                (paid.receipt_id.as_str(), paid.psp_company.as_deref()),
                ("token", Some("PSP"))
            );
            let mut other = for_option(&p.options[0].nav);
            other.receipt_id = "token-2".into();
            let before = p.clone();
            assert_eq!(
                other.settle(Some(&mut p), now).status,
                ReceiptStatus::Duplicate
            );
            assert_eq!(p, before);
        }

        #[test]
        fn an_installment_makes_the_plan_partially_paid_and_blocks_the_single_option() {
            let now = at(2029, 6, 1);
            let mut p = valid(vec![
                option(1, 600, at(2030, 1, 1), false),
                option(2, 300, at(2030, 1, 1), true),
                option(3, 300, at(2030, 2, 1), true),
            ]);
            let navs: Vec<_> = p.options.iter().map(|o| o.nav.clone()).collect();
            assert_eq!(
                for_option(&navs[1]).settle(Some(&mut p), now).status,
                ReceiptStatus::Applied
            );
            assert_eq!(p.status, PositionStatus::PartiallyPaid);
            let mut single = for_option(&navs[0]);
            single.receipt_id = "other".into();
            let s = single.settle(Some(&mut p), now);
            assert_eq!(s.status, ReceiptStatus::Flagged);
            assert_eq!(s.flag.unwrap().code, "NOT_PAYABLE");
            assert_eq!(p.options[0].status, OptionStatus::Unpaid);
            let mut last = for_option(&navs[2]);
            last.receipt_id = "last".into();
            assert_eq!(
                last.settle(Some(&mut p), now).status,
                ReceiptStatus::Applied
            );
            assert_eq!(p.status, PositionStatus::Paid);
        }

        #[test]
        fn unknown_invalid_and_negative_receipts_are_flagged_and_change_nothing() {
            let now = at(2029, 6, 1);
            let r = receipt(vec![]);
            let s = r.settle(None, now);
            assert_eq!(s.flag.unwrap().code, "UNKNOWN_NOTICE");

            let mut p = valid(vec![option(1, 300, at(2030, 1, 1), false)]);
            p.invalidate(now).unwrap();
            let before = p.clone();
            let s = for_option(&p.options[0].nav).settle(Some(&mut p), now);
            assert_eq!(s.status, ReceiptStatus::Flagged);
            assert!(s.flag.unwrap().description.contains("invalidated"));
            assert_eq!(p, before);

            let mut p = valid(vec![option(1, 300, at(2030, 1, 1), false)]);
            let mut ko = for_option(&p.options[0].nav);
            ko.outcome = ReceiptOutcome::Ko;
            assert_eq!(
                ko.settle(Some(&mut p), now).flag.unwrap().code,
                "NEGATIVE_OUTCOME"
            );
            assert_eq!(p.status, PositionStatus::Valid);
        }
    }

    #[test]
    fn the_legacy_stand_in_flag_moves_into_the_forwarded_receipt() {
        let request = SendRtRequest {
            ids: RequestIds {
                id_pa: text("77777777777"),
                id_broker_pa: text("77777777777"),
                id_station: text("77777777777_01"),
            },
            receipt: receipt(vec![]),
            version: ReceiptVersion::V2,
            stand_in: Some(true),
        };
        assert_eq!(request.receipt.stand_in, None);
        assert_eq!(request.forwarded_receipt().stand_in, Some(true));
    }

    #[test]
    fn detects_a_stamp() {
        let r = receipt(vec![
            transfer(1, "77777777777", ReceiptAccount::Iban(text("IT00"))),
            transfer(
                2,
                "77777777777",
                ReceiptAccount::MbdAttachment("QQ==".into()),
            ),
        ]);
        assert!(r.has_mbd_attachment());
        assert_eq!(r.beneficiaries().len(), 1);
    }
}
