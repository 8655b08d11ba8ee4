//! The platform's receipts service's receipt (`CtReceiptModelResponse` of `biz_events.json`) as
//! serde types, in the document's field names, and its conversion into the domain's receipt.
//! The service keeps what the Node sent as ctReceiptV2, less a few fields (paymentNote, the
//! transfers' companyName, standIn); amounts come as JSON numbers and are read as decimal
//! text, never through a float's arithmetic.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Number;

use crate::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use crate::domain::receipt::{
    IsoDateTime, Receipt, ReceiptAccount, ReceiptOutcome, ReceiptTransfer,
};
use crate::domain::{Cents, FiscalCodePA, NoticeNumber, Text, TransferId};

/// `CtReceiptModelResponse`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CtReceiptModelResponse {
    pub receipt_id: String,
    pub notice_number: String,
    pub fiscal_code: String,
    pub outcome: String,
    pub creditor_reference_id: String,
    pub payment_amount: Number,
    pub description: String,
    pub company_name: String,
    pub office_name: Option<String>,
    pub debtor: Party,
    pub transfer_list: Vec<TransferPa>,
    #[serde(rename = "idPSP")]
    pub id_psp: String,
    pub psp_fiscal_code: Option<String>,
    #[serde(rename = "pspPartitaIVA")]
    pub psp_partita_iva: Option<String>,
    pub psp_company_name: String,
    pub id_channel: String,
    pub channel_description: Option<String>,
    pub payer: Option<Party>,
    pub payment_method: Option<String>,
    pub fee: Option<Number>,
    pub primary_ci_incurred_fee: Option<Number>,
    pub id_bundle: Option<String>,
    pub id_ci_bundle: Option<String>,
    pub payment_date_time: Option<String>,
    pub payment_date_time_formatted: Option<String>,
    pub application_date: Option<String>,
    pub transfer_date: Option<String>,
    pub metadata: Option<Vec<Entry>>,
}

/// `Debtor` and `Payer`, which have the same fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub entity_unique_identifier_type: String,
    pub entity_unique_identifier_value: String,
    pub full_name: String,
    pub street_name: Option<String>,
    pub civic_number: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub state_province_region: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
}

/// `TransferPA`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferPa {
    pub id_transfer: Option<i64>,
    pub transfer_amount: Number,
    #[serde(rename = "fiscalCodePA")]
    pub fiscal_code_pa: String,
    pub iban: Option<String>,
    pub mbd_attachment: Option<String>,
    pub remittance_information: String,
    pub transfer_category: String,
    pub metadata: Option<Vec<Entry>>,
}

/// `MapEntry`.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Reads a date-time as the XSD's xsd:dateTime; the caller gives the receipts codec's reader,
/// so that a recovered receipt's time means what the Node's would.
pub type DateTimeReader = fn(&str) -> Result<IsoDateTime, String>;

impl CtReceiptModelResponse {
    /// The receipt it records, or the first field that no receipt of the Node could carry
    /// (named by its JSON path). A missing channelDescription, which ctReceiptV2 requires,
    /// is the idChannel; `paymentDateTimeFormatted` is preferred to `paymentDateTime`, which the
    /// document types as a date; a payment time that is a date only is left out.
    pub fn to_receipt(&self, date_time: DateTimeReader) -> Result<Receipt, String> {
        let payment_date_time = [&self.payment_date_time_formatted, &self.payment_date_time]
            .into_iter()
            .flatten()
            .find(|s| s.len() > 10)
            .map(|s| date_time(s).map_err(|e| format!("paymentDateTime: {e}")))
            .transpose()?;
        let transfers = self
            .transfer_list
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.to_transfer(i)
                    .map_err(|e| format!("transferList[{i}].{e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !(1..=5).contains(&transfers.len()) {
            return Err("transferList: a receipt has 1 to 5 transfers".into());
        }
        Ok(Receipt {
            receipt_id: self.receipt_id.clone(),
            notice_number: NoticeNumber::parse(&self.notice_number)
                .map_err(|e| format!("noticeNumber: must {e}"))?,
            fiscal_code: FiscalCodePA::parse(&self.fiscal_code)
                .map_err(|e| format!("fiscalCode: must {e}"))?,
            outcome: match self.outcome.as_str() {
                "OK" => ReceiptOutcome::Ok,
                "KO" => ReceiptOutcome::Ko,
                other => return Err(format!("outcome: '{other}' must be OK or KO")),
            },
            creditor_reference_id: text("creditorReferenceId", &self.creditor_reference_id)?,
            payment_amount: cents("paymentAmount", &self.payment_amount)?,
            description: text("description", &self.description)?,
            company_name: text("companyName", &self.company_name)?,
            office_name: optional("officeName", &self.office_name)?,
            debtor: self
                .debtor
                .to_subject()
                .map_err(|e| format!("debtor.{e}"))?,
            transfers,
            id_psp: text("idPSP", &self.id_psp)?,
            psp_fiscal_code: optional("pspFiscalCode", &self.psp_fiscal_code)?,
            psp_partita_iva: optional("pspPartitaIVA", &self.psp_partita_iva)?,
            psp_company_name: text("pspCompanyName", &self.psp_company_name)?,
            id_channel: text("idChannel", &self.id_channel)?,
            channel_description: text(
                "channelDescription",
                self.channel_description
                    .as_deref()
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or(&self.id_channel),
            )?,
            payer: self
                .payer
                .as_ref()
                .map(|p| p.to_subject().map_err(|e| format!("payer.{e}")))
                .transpose()?,
            payment_method: optional("paymentMethod", &self.payment_method)?,
            payment_note: None,
            fee: self.fee.as_ref().map(|f| cents("fee", f)).transpose()?,
            primary_ci_incurred_fee: self
                .primary_ci_incurred_fee
                .as_ref()
                .map(|f| cents("primaryCiIncurredFee", f))
                .transpose()?,
            id_bundle: optional("idBundle", &self.id_bundle)?,
            id_ci_bundle: optional("idCiBundle", &self.id_ci_bundle)?,
            payment_date_time,
            application_date: date("applicationDate", &self.application_date)?,
            transfer_date: date("transferDate", &self.transfer_date)?,
            metadata: entries("metadata", &self.metadata)?,
            stand_in: None,
        })
    }
}

impl Party {
    fn to_subject(&self) -> Result<Subject, String> {
        let entity_type = EntityType::parse(&self.entity_unique_identifier_type)
            .ok_or_else(|| "entityUniqueIdentifierType: must be F or G".to_owned())?;
        let entity_id = EntityId::parse(&self.entity_unique_identifier_value)
            .map_err(|e| format!("entityUniqueIdentifierValue: must {e}"))?;
        Ok(Subject {
            entity_type,
            entity_id,
            full_name: text("fullName", &self.full_name)?,
            street_name: optional("streetName", &self.street_name)?,
            civic_number: optional("civicNumber", &self.civic_number)?,
            postal_code: optional("postalCode", &self.postal_code)?,
            city: optional("city", &self.city)?,
            state_province_region: optional("stateProvinceRegion", &self.state_province_region)?,
            country: present(&self.country)
                .map(|c| CountryCode::parse(c).map_err(|e| format!("country: must {e}")))
                .transpose()?,
            email: present(&self.email)
                .map(|m| Email::parse(m).map_err(|e| format!("email: must {e}")))
                .transpose()?,
        })
    }
}

impl TransferPa {
    fn to_transfer(&self, index: usize) -> Result<ReceiptTransfer, String> {
        let id = self.id_transfer.unwrap_or(index as i64 + 1);
        let account = match (present(&self.iban), present(&self.mbd_attachment)) {
            (Some(iban), _) => ReceiptAccount::Iban(text("iban", iban)?),
            (None, Some(stamp)) => ReceiptAccount::MbdAttachment(stamp.to_owned()),
            (None, None) => return Err("iban: a transfer has an IBAN or a mbdAttachment".into()),
        };
        let amount = cents("transferAmount", &self.transfer_amount)?;
        if amount.is_zero() {
            return Err("transferAmount: must not be zero".into());
        }
        Ok(ReceiptTransfer {
            id: TransferId::new(id).map_err(|e| format!("idTransfer: must {e}"))?,
            amount,
            fiscal_code_pa: FiscalCodePA::parse(&self.fiscal_code_pa)
                .map_err(|e| format!("fiscalCodePA: must {e}"))?,
            company_name: None,
            account,
            remittance_information: text("remittanceInformation", &self.remittance_information)?,
            transfer_category: text("transferCategory", &self.transfer_category)?,
            metadata: entries("metadata", &self.metadata)?,
        })
    }
}

/// A value that is there and not blank.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

fn text<const N: usize>(field: &str, value: &str) -> Result<Text<N>, String> {
    Text::new(value).map_err(|e| format!("{field}: {e}"))
}

/// An optional text: absent or blank is none.
fn optional<const N: usize>(
    field: &str,
    value: &Option<String>,
) -> Result<Option<Text<N>>, String> {
    present(value).map(|v| text(field, v)).transpose()
}

fn date(field: &str, value: &Option<String>) -> Result<Option<NaiveDate>, String> {
    present(value)
        .map(|v| {
            NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d")
                .map_err(|_| format!("{field}: must be a date YYYY-MM-DD"))
        })
        .transpose()
}

fn entries(field: &str, value: &Option<Vec<Entry>>) -> Result<Vec<MapEntry>, String> {
    let entries = value.as_deref().unwrap_or_default();
    if entries.len() > 15 {
        return Err(format!("{field}: at most 15 entries"));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let part = |name: &str, v: &Option<String>| {
                text(&format!("{field}[{i}].{name}"), v.as_deref().unwrap_or(""))
            };
            Ok(MapEntry {
                key: part("key", &e.key)?,
                value: part("value", &e.value)?,
            })
        })
        .collect()
}

/// An amount in euros, as the JSON number's decimal text, in cents: no more than two
/// decimals, no sign, no exponent.
fn cents(field: &str, value: &Number) -> Result<Cents, String> {
    let invalid =
        || format!("{field}: {value} is not an amount in euros with at most two decimals");
    let text = value.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    Cents::parse_xsd(&format!("{int}.{frac:0<2}")).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> Number {
        serde_json::from_str(s).unwrap()
    }

    fn answer(change: impl FnOnce(&mut serde_json::Value)) -> Result<Receipt, String> {
        let mut v = serde_json::json!({
            "receiptId": "iur-1", "noticeNumber": "301000000000000144", "fiscalCode": "77777777777",
            "outcome": "OK", "creditorReferenceId": "01000000000000144", "paymentAmount": 16.5,
            "description": "d", "companyName": "c",
            "debtor": {"entityUniqueIdentifierType": "F", "entityUniqueIdentifierValue": "RSSMRA80A01H501U",
                       "fullName": "Mario Rossi", "email": ""},
            "transferList": [{"transferAmount": 16.5, "fiscalCodePA": "77777777777", "iban": "",
                              "mbdAttachment": "QUJD", "remittanceInformation": "r", "transferCategory": "t"}],
            "idPSP": "psp", "pspCompanyName": "PSP", "idChannel": "psp_01",
            "paymentDateTime": "2025-06-01"
        });
        change(&mut v);
        let parsed: CtReceiptModelResponse = serde_json::from_value(v).unwrap();
        parsed.to_receipt(crate::xml::receipts::date_time)
    }

    #[test]
    fn what_the_service_leaves_out_or_writes_its_own_way_is_filled_in() {
        let r = answer(|_| {}).unwrap();
        assert_eq!(r.payment_amount.get(), 1650);
        // No channelDescription: the channel's id. A date alone is no payment time.
        assert_eq!(r.channel_description.as_str(), "psp_01");
        assert_eq!(r.payment_date_time, None);
        // An empty IBAN beside a stamp: the stamp; a blank e-mail: none.
        assert!(r.has_mbd_attachment());
        assert_eq!(r.transfers[0].id.get(), 1);
        assert_eq!(r.debtor.email, None);
        let r =
            answer(|v| v["paymentDateTimeFormatted"] = "2025-06-01T10:15:30.123Z".into()).unwrap();
        let at = r.payment_date_time.unwrap();
        assert_eq!(
            (at.lexical.as_str(), at.zoned),
            ("2025-06-01T10:15:30.123Z", true)
        );
    }

    #[test]
    fn a_receipt_no_station_could_take_is_refused_by_its_field() {
        let e = answer(|v| v["transferList"][0]["transferAmount"] = 16.555.into()).unwrap_err();
        assert!(e.starts_with("transferList[0].transferAmount:"), "{e}");
        let e = answer(|v| v["transferList"] = serde_json::json!([])).unwrap_err();
        assert!(e.starts_with("transferList:"), "{e}");
        let e = answer(|v| v["noticeNumber"] = "3".into()).unwrap_err();
        assert!(e.starts_with("noticeNumber:"), "{e}");
        let e = answer(|v| v["debtor"]["entityUniqueIdentifierType"] = "X".into()).unwrap_err();
        assert!(e.starts_with("debtor.entityUniqueIdentifierType:"), "{e}");
    }

    #[test]
    fn amounts_are_read_as_their_decimal_text() {
        let read = |s| cents("x", &number(s)).map(Cents::get);
        assert_eq!(read("100"), Ok(10000));
        assert_eq!(read("100.5"), Ok(10050));
        assert_eq!(read("0.07"), Ok(7));
        assert_eq!(read("1234567.89"), Ok(123456789));
        assert!(read("1.005").is_err());
        assert!(read("-1.00").is_err());
        assert!(read("1e17").is_err());
    }
}
