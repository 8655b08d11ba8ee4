//! The receipt the Node delivers with paSendRT (ctReceipt) and paSendRTV2 (ctReceiptV2), as a
//! typed value. One model serves both versions: a V1 receipt simply has none of the V2-only
//! fields and only IBAN transfers. Pure data plus the few questions a primitive asks of it.

use chrono::{NaiveDate, NaiveDateTime};

use super::messages::{MapEntry, RequestIds, Subject};
use super::{Cents, FiscalCodePA, NoticeNumber, Text, TransferId};

/// Which primitive carried the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptVersion {
    /// paSendRTReq with a ctReceipt.
    V1,
    /// paSendRTV2Request with a ctReceiptV2.
    V2,
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

/// A transfer of a receipt (ctTransferPA in V1, ctTransferPAReceiptV2 in V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTransfer {
    pub id: TransferId,
    /// Never zero (stAmountNotZero).
    pub amount: Cents,
    pub fiscal_code_pa: FiscalCodePA,
    /// The beneficiary's name (V2 only).
    pub company_name: Option<Text<140>>,
    pub account: ReceiptAccount,
    pub remittance_information: Text<140>,
    pub transfer_category: Text<140>,
    /// Empty when the transfer has no metadata element (which holds 1..15 entries).
    pub metadata: Vec<MapEntry>,
}

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

    /// Whether a transfer paid a revenue stamp, which only a V2 recipient can be told about.
    pub fn has_mbd_attachment(&self) -> bool {
        self.transfers
            .iter()
            .any(|t| matches!(t.account, ReceiptAccount::MbdAttachment(_)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::{EntityId, EntityType};

    fn text<const N: usize>(s: &str) -> Text<N> {
        Text::new(s).unwrap()
    }

    fn transfer(id: i64, fiscal_code: &str, account: ReceiptAccount) -> ReceiptTransfer {
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

    fn receipt(transfers: Vec<ReceiptTransfer>) -> Receipt {
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
            debtor: Subject {
                entity_type: EntityType::F,
                entity_id: EntityId::parse("RSSMRA80A01H501U").unwrap(),
                full_name: text("Mario Rossi"),
                street_name: None,
                civic_number: None,
                postal_code: None,
                city: None,
                state_province_region: None,
                country: None,
                email: None,
            },
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
