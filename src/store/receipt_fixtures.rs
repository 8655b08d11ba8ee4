//! Receipts as the receipt use case prepares them, and stations, for the tests of every store.

use std::time::Duration;

use crate::domain::broadcast::{BroadcastStation, StationUrl};
use crate::domain::messages::RequestIds;
use crate::domain::position::tests::at;
use crate::domain::position::{DebtPosition, PositionStatus};
use crate::domain::receipt::tests::{receipt, transfer};
use crate::domain::receipt::{ReceiptAccount, ReceiptTransfer, ReceiptVersion, SendRtRequest};
use crate::domain::{FiscalCodePA, Text};
use crate::store::NewReceipt;

/// The notices' creditor.
pub const ORG: &str = "77777777777";

pub fn valid(p: DebtPosition) -> DebtPosition {
    DebtPosition {
        status: PositionStatus::Valid,
        ..p
    }
}

pub fn new_receipt(
    id: &str,
    nav: &crate::domain::NoticeNumber,
    beneficiaries: &[&str],
) -> NewReceipt {
    new_receipt_paying(id, nav, beneficiaries, 300)
}

/// A receipt as the receipt use case prepares it, of `cents` in all.
pub fn new_receipt_paying(
    id: &str,
    nav: &crate::domain::NoticeNumber,
    beneficiaries: &[&str],
    cents: i64,
) -> NewReceipt {
    let iban = || ReceiptAccount::Iban(Text::new("IT60X0542811101000000123456").unwrap());
    let transfers = beneficiaries
        .iter()
        .enumerate()
        .map(|(i, o)| transfer(i as i64 + 1, o, iban()))
        .collect();
    new_receipt_of(id, nav, transfers, cents)
}

/// A receipt of the given transfers, as the receipt use case prepares it, of `cents` in all.
pub fn new_receipt_of(
    id: &str,
    nav: &crate::domain::NoticeNumber,
    transfers: Vec<ReceiptTransfer>,
    cents: i64,
) -> NewReceipt {
    new_receipt_changed(id, nav, transfers, cents, |_| {})
}

/// [`new_receipt_of`] with `change` applied to the receipt (its payer, its debtor…).
pub fn new_receipt_changed(
    id: &str,
    nav: &crate::domain::NoticeNumber,
    transfers: Vec<ReceiptTransfer>,
    cents: i64,
    change: impl FnOnce(&mut crate::domain::receipt::Receipt),
) -> NewReceipt {
    let mut r = receipt(transfers);
    change(&mut r);
    r.receipt_id = id.into();
    r.notice_number = nav.clone();
    r.creditor_reference_id = Text::new(&nav.as_str()[1..]).unwrap();
    r.payment_amount = crate::domain::Cents::new(cents).unwrap();
    let request = SendRtRequest {
        ids: RequestIds {
            id_pa: Text::new(ORG).unwrap(),
            id_broker_pa: Text::new(ORG).unwrap(),
            id_station: Text::new("77777777777_01").unwrap(),
        },
        receipt: r,
        version: ReceiptVersion::V2,
        stand_in: None,
    };
    let receipt = std::sync::Arc::new(request.forwarded_receipt());
    let forms = crate::broadcast::forms::ReceiptForms::new(receipt);
    let document = format!("<doc>{id}</doc>").into_bytes();
    crate::primitives::send_rt::prepare(request, forms, document, at(2029, 6, 1))
}

pub fn station(org: &str, id: &str) -> BroadcastStation {
    BroadcastStation {
        organization: FiscalCodePA::parse(org).unwrap(),
        station_id: Text::new(id).unwrap(),
        broker_id: Text::new(org).unwrap(),
        url: StationUrl::parse("http://127.0.0.1:9/s").unwrap(),
        version: ReceiptVersion::V2,
        timeout: Duration::from_millis(500),
        enabled: true,
    }
}
