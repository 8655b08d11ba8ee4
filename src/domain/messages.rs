//! The SOAP primitives as typed values: which operations exist, what their requests carry once
//! parsed, and what an OK response says. `xml` turns bytes into these and back; `primitives`
//! answers them from the store.

use chrono::{NaiveDate, NaiveDateTime};

use super::ids::IdError;
use super::party::{MapEntry, Subject};
use super::position::{DebtPosition, StampRequest};
use super::service::demand::ServiceData;
use super::text::str_newtype;
use super::{Cents, FiscalCodePA, NoticeNumber, Text, TransferId};

/// The paForNode operations, named by their SOAPAction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    VerifyPaymentNotice,
    GetPayment,
    GetPaymentV2,
    SendRt,
    SendRtV2,
    DemandPaymentNotice,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::VerifyPaymentNotice,
        Operation::GetPayment,
        Operation::GetPaymentV2,
        Operation::SendRt,
        Operation::SendRtV2,
        Operation::DemandPaymentNotice,
    ];

    /// The SOAPAction, which is also the WSDL operation name.
    pub fn action(self) -> &'static str {
        match self {
            Operation::VerifyPaymentNotice => "paVerifyPaymentNotice",
            Operation::GetPayment => "paGetPayment",
            Operation::GetPaymentV2 => "paGetPaymentV2",
            Operation::SendRt => "paSendRT",
            Operation::SendRtV2 => "paSendRTV2",
            Operation::DemandPaymentNotice => "paDemandPaymentNotice",
        }
    }

    /// The request wrapper element (local name, paForNode namespace).
    pub fn request_element(self) -> &'static str {
        match self {
            Operation::VerifyPaymentNotice => "paVerifyPaymentNoticeReq",
            Operation::GetPayment => "paGetPaymentReq",
            Operation::GetPaymentV2 => "paGetPaymentV2Request",
            Operation::SendRt => "paSendRTReq",
            Operation::SendRtV2 => "paSendRTV2Request",
            Operation::DemandPaymentNotice => "paDemandPaymentNoticeRequest",
        }
    }

    /// The response wrapper element (local name, paForNode namespace).
    pub fn response_element(self) -> &'static str {
        match self {
            Operation::VerifyPaymentNotice => "paVerifyPaymentNoticeRes",
            Operation::GetPayment => "paGetPaymentRes",
            Operation::GetPaymentV2 => "paGetPaymentV2Response",
            Operation::SendRt => "paSendRTRes",
            Operation::SendRtV2 => "paSendRTV2Response",
            Operation::DemandPaymentNotice => "paDemandPaymentNoticeResponse",
        }
    }

    pub fn from_request_element(local_name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.request_element() == local_name)
    }

    /// Reads a SOAPAction header value: quoted or not, surrounding spaces ignored.
    pub fn from_soap_action(value: &str) -> Option<Operation> {
        let v = value.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v)
            .trim();
        Operation::ALL.into_iter().find(|op| op.action() == v)
    }
}

/// Who the Node says the request is for: creditor, its broker and the station (stText35 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    pub id_pa: Text<35>,
    pub id_broker_pa: Text<35>,
    pub id_station: Text<35>,
}

/// The notice as printed on the payment slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    pub fiscal_code: FiscalCodePA,
    pub notice_number: NoticeNumber,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRequest {
    pub ids: RequestIds,
    pub qr_code: QrCode,
}

/// stIdentificativoServizio / stIdentificativoSoggettoServizio: exactly 5 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code5(String);

impl Code5 {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.chars().count() == 5 {
            Ok(Code5(s.to_owned()))
        } else {
            Err(IdError("be exactly 5 characters"))
        }
    }
}

/// paDemandPaymentNoticeRequest: a citizen asks for a notice of one of the creditor's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandRequest {
    pub ids: RequestIds,
    /// idServizio.
    pub service_id: Code5,
    /// idSoggettoServizio: who in the creditor offers the service; not used.
    pub service_subject: Code5,
    /// datiSpecificiServizioRequest, decoded and read.
    pub service_data: ServiceData,
}

/// paDemandPaymentNoticeResponse when OK: the new notice and what verify would say of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandResponse {
    pub qr_code: QrCode,
    pub payment: VerifyResponse,
}

/// Which accounts the payer's PSP can credit (stTransferType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// Prefer postal accounts where the creditor has them.
    Postal,
    /// Bank accounts; a postal account travels as IBANAPPOGGIO metadata.
    PagoPa,
}

/// paGetPaymentReq and paGetPaymentV2Request carry the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPaymentRequest {
    pub ids: RequestIds,
    pub qr_code: QrCode,
    pub amount: Option<Cents>,
    pub payment_note: Option<Text<210>>,
    pub transfer_type: Option<TransferType>,
    pub due_date: Option<NaiveDate>,
}

/// paVerifyPaymentNoticeRes when OK: exactly one payment option, amount option EQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyResponse {
    pub amount: Cents,
    pub due_date: NaiveDate,
    pub detail_description: Text<140>,
    pub all_ccp: bool,
    pub payment_description: Text<140>,
    pub fiscal_code_pa: FiscalCodePA,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
}

impl VerifyResponse {
    /// What verify says of `position`'s option `index`; demand says the same of the notice it
    /// has just created. The option's description serves both description elements.
    pub fn of_option(position: &DebtPosition, index: usize) -> VerifyResponse {
        let option = &position.options[index];
        VerifyResponse {
            amount: option.amount,
            due_date: option.due_date.date(),
            detail_description: option.description.clone(),
            all_ccp: option.all_postal(),
            payment_description: option.description.clone(),
            fiscal_code_pa: position.organization.clone(),
            company_name: position.company_name.clone(),
            office_name: position.office_name.clone(),
        }
    }
}

/// Where a transfer's money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferAccount {
    Iban(Text<35>),
    Stamp(StampRequest),
}

/// A transfer as the Node's messages carry it, its money going to an `A`: ctTransferPA and
/// ctTransferPAV2 in paGetPayment's answer, ctTransferPAReceiptV2 in a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaTransfer<A> {
    pub id: TransferId,
    pub amount: Cents,
    pub fiscal_code_pa: FiscalCodePA,
    /// The beneficiary's name (V2 only).
    pub company_name: Option<Text<140>>,
    pub account: A,
    pub remittance_information: Text<140>,
    pub transfer_category: Text<140>,
    /// Empty when the transfer has no metadata element (which holds 1..15 entries).
    pub metadata: Vec<MapEntry>,
}

/// A transfer of paGetPayment's answer.
pub type TransferData = PaTransfer<TransferAccount>;

/// The `data` of paGetPaymentRes / paGetPaymentV2Response. The writer emits the V1 or V2 form;
/// a V1 answer cannot carry a stamp, the primitive refuses that case before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentData {
    pub creditor_reference_id: Text<35>,
    pub payment_amount: Cents,
    pub due_date: NaiveDate,
    pub retention_date: Option<NaiveDateTime>,
    pub last_payment: bool,
    pub description: Text<140>,
    pub company_name: Text<140>,
    pub office_name: Option<Text<140>>,
    pub debtor: Subject,
    pub transfers: Vec<TransferData>,
    pub metadata: Vec<MapEntry>,
}

str_newtype!(Code5);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::position::tests::{at, option, position};

    #[test]
    fn soap_action_quoted_or_not() {
        assert_eq!(
            Operation::from_soap_action("paGetPaymentV2"),
            Some(Operation::GetPaymentV2)
        );
        assert_eq!(
            Operation::from_soap_action("\"paSendRT\""),
            Some(Operation::SendRt)
        );
        assert_eq!(
            Operation::from_soap_action(" \"paVerifyPaymentNotice\" "),
            Some(Operation::VerifyPaymentNotice)
        );
        assert_eq!(Operation::from_soap_action("paverifypaymentnotice"), None);
        assert_eq!(Operation::from_soap_action(""), None);
    }

    #[test]
    fn wrappers_are_asymmetric() {
        assert_eq!(
            Operation::from_request_element("paGetPaymentV2Request"),
            Some(Operation::GetPaymentV2)
        );
        assert_eq!(
            Operation::from_request_element("paGetPaymentV2Response"),
            None
        );
        assert_eq!(
            Operation::VerifyPaymentNotice.response_element(),
            "paVerifyPaymentNoticeRes"
        );
    }

    #[test]
    fn verify_describes_the_option_asked_for() {
        let mut p = position(vec![
            option(1, 1000, at(2030, 1, 1), true),
            option(2, 2500, at(2030, 2, 1), true),
        ]);
        p.options[1].description = Text::new("Rata 2").unwrap();
        let r = VerifyResponse::of_option(&p, 1);
        assert_eq!(r.amount.get(), 2500);
        assert_eq!(r.due_date, at(2030, 2, 1).date());
        assert_eq!(r.detail_description.as_str(), "Rata 2");
        assert_eq!(r.payment_description.as_str(), "Rata 2");
        assert_eq!(r.fiscal_code_pa, p.organization);
        assert_eq!(r.company_name.as_str(), "Comune di Esempio");
        assert_eq!(r.office_name, None);
        assert!(!r.all_ccp, "no transfer has a postal account");
    }
}
