//! paGetPayment and paGetPaymentV2 ("activation"): the payment data the PSP will collect, with
//! 1..5 transfers summing to the amount. The transfer type picks the account: POSTAL prefers
//! the postal account, PAGOPA gives the bank account and the postal one as IBANAPPOGGIO. An
//! option notified through SEND gets its notification fee from SEND first (`send_fee`).

use super::{payable_option, send_fee};
use crate::context::Context;
use crate::domain::messages::{
    GetPaymentRequest, Operation, PaymentData, TransferAccount, TransferData, TransferType,
};
use crate::domain::party::MapEntry;
use crate::domain::position::{Account, DebtPosition, NOTIFICATION_FEE_KEY, Transfer};
use crate::domain::{Fault, FaultCode, Text};

/// The metadata key carrying the postal account when the bank account is used.
pub const POSTAL_ACCOUNT_KEY: &str = "IBANAPPOGGIO";

fn entry(key: &str, value: &str) -> MapEntry {
    MapEntry {
        key: Text::new(key).expect("non-empty key"),
        value: Text::new(value).expect("non-empty value"),
    }
}

pub async fn answer(
    ctx: &Context,
    op: Operation,
    req: &GetPaymentRequest,
) -> Result<PaymentData, Fault> {
    let (position, index) = payable_option(ctx, &req.ids, &req.qr_code).await?;
    let v2 = op == Operation::GetPaymentV2;
    if !v2
        && position.options[index]
            .transfers
            .iter()
            .any(|t| matches!(t.account, Account::Stamp(_)))
    {
        return Err(Fault::new(
            FaultCode::Semantica,
            req.ids.id_pa.as_str(),
            "this notice includes a digital stamp (marca da bollo), which only paGetPaymentV2 can carry",
        ));
    }
    let (position, index) = send_fee::refresh(ctx, position, index).await;
    let option = &position.options[index];
    let mut metadata = option.metadata.clone();
    if let Some(fee) = option.notification_fee {
        metadata.push(entry(NOTIFICATION_FEE_KEY, &fee.get().to_string()));
    }
    Ok(PaymentData {
        creditor_reference_id: Text::new(option.iuv.as_str()).expect("an IUV is 17 digits"),
        payment_amount: option.amount,
        due_date: option.due_date.date(),
        retention_date: option.retention_date,
        last_payment: false,
        description: option.description.clone(),
        company_name: position.company_name.clone(),
        office_name: position.office_name.clone(),
        debtor: position.debtor.subject.clone(),
        transfers: option
            .transfers
            .iter()
            .map(|t| transfer(ctx, &position, t, req.transfer_type))
            .collect(),
        metadata,
    })
}

fn transfer(
    ctx: &Context,
    position: &DebtPosition,
    t: &Transfer,
    transfer_type: Option<TransferType>,
) -> TransferData {
    let mut metadata = t.metadata.clone();
    let account = match &t.account {
        Account::Iban { iban, postal_iban } => match (transfer_type, postal_iban) {
            (Some(TransferType::Postal), Some(postal)) => {
                TransferAccount::Iban(postal.as_text().clone())
            }
            (Some(TransferType::PagoPa), Some(postal)) => {
                metadata.push(entry(POSTAL_ACCOUNT_KEY, postal.as_str()));
                TransferAccount::Iban(iban.as_text().clone())
            }
            _ => TransferAccount::Iban(iban.as_text().clone()),
        },
        Account::Stamp(stamp) => TransferAccount::Stamp(stamp.clone()),
    };
    // The beneficiary's name: as given, else ours for our own transfers, else from configuration.
    let company_name = t.company_name.clone().or_else(|| {
        if t.organization == position.organization {
            Some(position.company_name.clone())
        } else {
            ctx.config
                .creditors
                .get(&t.organization)
                .map(|c| c.company_name.clone())
        }
    });
    TransferData {
        id: t.id,
        amount: t.amount,
        fiscal_code_pa: t.organization.clone(),
        company_name,
        account,
        remittance_information: t.remittance_information.clone(),
        transfer_category: t.category.clone(),
        metadata,
    }
}
