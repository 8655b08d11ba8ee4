//! Conversions between column values and domain values that every store makes the same way:
//! times as milliseconds since the epoch, texts and amounts checked again on the way out,
//! metadata as a JSON list, a position from its rows. A stored value that no longer parses is
//! reported as corruption, never silently replaced.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use serde_json::json;

use crate::domain::api_key::SegregationScope;
use crate::domain::broadcast::{BroadcastStation, DeliveryState, StationUrl, first_retry_at};
use crate::domain::journal::{EventKind, JournalEntry, Outcome};
use crate::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use crate::domain::position::{
    Account, DebtPosition, Debtor, Iban, Iupd, OptionPayment, OptionStatus, PaymentOption,
    PositionStatus, StampRequest, Transfer, TransferStatus,
};
use crate::domain::receipt::{ReceiptOrigin, ReceiptStatus, ReceiptVersion};
use crate::domain::{Cents, FiscalCodePA, Iuv, NoticeNumber, Text, TransferId};
use crate::store::{
    AttemptRecord, Delivery, NewDelivery, ReceiptSummary, StoreError, SubjectReceipt,
};

pub(in crate::store) fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored value of {column} is invalid: {problem}"))
}

pub(in crate::store) fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

pub(in crate::store) fn from_millis(ms: i64, column: &str) -> Result<NaiveDateTime, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.naive_utc())
        .ok_or_else(|| corrupt(column, ms))
}

pub(in crate::store) fn opt_millis(
    ms: Option<i64>,
    column: &str,
) -> Result<Option<NaiveDateTime>, StoreError> {
    ms.map(|m| from_millis(m, column)).transpose()
}

pub(in crate::store) fn text<const N: usize>(
    s: String,
    column: &str,
) -> Result<Text<N>, StoreError> {
    Text::new(s).map_err(|e| corrupt(column, e))
}

pub(in crate::store) fn opt_text<const N: usize>(
    s: Option<String>,
    column: &str,
) -> Result<Option<Text<N>>, StoreError> {
    s.map(|s| text(s, column)).transpose()
}

pub(in crate::store) fn cents(v: i64, column: &str) -> Result<Cents, StoreError> {
    Cents::new(v).map_err(|e| corrupt(column, e))
}

pub(in crate::store) fn metadata_json(entries: &[MapEntry]) -> String {
    json!(
        entries
            .iter()
            .map(|e| json!({"key": e.key.as_str(), "value": e.value.as_str()}))
            .collect::<Vec<_>>()
    )
    .to_string()
}

pub(in crate::store) fn metadata_from_json(
    s: &str,
    column: &str,
) -> Result<Vec<MapEntry>, StoreError> {
    let entries: Vec<StoredEntry> = serde_json::from_str(s).map_err(|e| corrupt(column, e))?;
    entries
        .into_iter()
        .map(|e| {
            Ok(MapEntry {
                key: text(e.key, column)?,
                value: text(e.value, column)?,
            })
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct StoredEntry {
    key: String,
    value: String,
}

/// A primitive version read from `column`.
pub(in crate::store) fn version_from(n: i64, column: &str) -> Result<ReceiptVersion, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(|n| ReceiptVersion::from_number(n).ok())
        .ok_or_else(|| corrupt(column, n))
}

/// The columns of `debt_position` that a position's content fills, in the order every store
/// binds them: the one list behind the insert, a creditor's update and the reads. The row's
/// identity (organization, IUPD), creation date and version are apart.
pub(in crate::store) const POSITION_CONTENT: [&str; 24] = [
    "status",
    "company_name",
    "office_name",
    "debtor_type",
    "debtor_fiscal_code",
    "debtor_full_name",
    "street_name",
    "civic_number",
    "postal_code",
    "city",
    "province",
    "region",
    "country",
    "email",
    "phone",
    "switch_to_expired",
    "pay_stand_in",
    "validity_date",
    "publish_date",
    "payment_date",
    "last_updated_date",
    "expires_after",
    "retained_until",
    "personal_data_erased_at",
];

/// A value bound to a statement's parameter, the same for both stores: each driver takes it as
/// one of its own parameters, so that the values of a row are listed once for both.
#[derive(Debug, Clone)]
pub(in crate::store) enum ColumnValue<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bool(bool),
}

impl<'a> From<&'a str> for ColumnValue<'a> {
    fn from(v: &'a str) -> Self {
        ColumnValue::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<Option<&'a str>> for ColumnValue<'a> {
    fn from(v: Option<&'a str>) -> Self {
        ColumnValue::Text(v.map(Cow::Borrowed))
    }
}

impl From<String> for ColumnValue<'_> {
    fn from(v: String) -> Self {
        ColumnValue::Text(Some(Cow::Owned(v)))
    }
}

impl From<Option<String>> for ColumnValue<'_> {
    fn from(v: Option<String>) -> Self {
        ColumnValue::Text(v.map(Cow::Owned))
    }
}

impl From<i64> for ColumnValue<'_> {
    fn from(v: i64) -> Self {
        ColumnValue::Int(Some(v))
    }
}

impl From<Option<i64>> for ColumnValue<'_> {
    fn from(v: Option<i64>) -> Self {
        ColumnValue::Int(v)
    }
}

impl From<bool> for ColumnValue<'_> {
    fn from(v: bool) -> Self {
        ColumnValue::Bool(v)
    }
}

/// The values of `p` for the [`POSITION_CONTENT`] columns, in that order.
pub(in crate::store) fn position_content(p: &DebtPosition) -> [ColumnValue<'_>; 24] {
    let d = &p.debtor;
    let s = &d.subject;
    [
        p.status.as_str().into(),
        p.company_name.as_str().into(),
        p.office_name.as_ref().map(Text::as_str).into(),
        s.entity_type.as_str().into(),
        s.entity_id.as_str().into(),
        s.full_name.as_str().into(),
        s.street_name.as_ref().map(Text::as_str).into(),
        s.civic_number.as_ref().map(Text::as_str).into(),
        s.postal_code.as_ref().map(Text::as_str).into(),
        s.city.as_ref().map(Text::as_str).into(),
        s.state_province_region.as_ref().map(Text::as_str).into(),
        d.region.as_ref().map(Text::as_str).into(),
        s.country.as_ref().map(CountryCode::as_str).into(),
        s.email.as_ref().map(Email::as_str).into(),
        d.phone.as_ref().map(Text::as_str).into(),
        p.switch_to_expired.into(),
        p.pay_stand_in.into(),
        p.validity_date.map(millis).into(),
        p.publish_date.map(millis).into(),
        p.payment_date.map(millis).into(),
        millis(p.last_updated_date).into(),
        p.expires_after().map(millis).into(),
        p.retention_end().map(millis).into(),
        p.personal_data_erased.map(millis).into(),
    ]
}

/// `mark`1, `mark`2, … `mark`n: the placeholders of n values, `$n` on PostgreSQL, `?n` on SQLite.
fn placeholders(mark: char, n: usize) -> String {
    let all: Vec<String> = (1..=n).map(|i| format!("{mark}{i}")).collect();
    all.join(", ")
}

/// The statement that inserts a position's row, with [`new_position_values`]; placeholders by
/// `mark`.
pub(in crate::store) fn insert_position_sql(mark: char) -> String {
    format!(
        "INSERT INTO debt_position ({}, organization, iupd, inserted_date, version) VALUES ({})",
        POSITION_CONTENT.join(", "),
        placeholders(mark, POSITION_CONTENT.len() + 4)
    )
}

/// The values of a new position's row: its content, creditor, IUPD, insertion date and version.
pub(in crate::store) fn new_position_values(p: &DebtPosition) -> Vec<ColumnValue<'_>> {
    let mut values = position_content(p).to_vec();
    values.extend([
        p.organization.as_str().into(),
        p.iupd.as_str().into(),
        millis(p.inserted_date).into(),
        p.version.into(),
    ]);
    values
}

/// The statement that rewrites a position's row, with [`replaced_position_values`], at its next
/// version if it is still at the version read (compare and set); placeholders by `mark`.
pub(in crate::store) fn replace_position_sql(mark: char) -> String {
    let n = POSITION_CONTENT.len();
    let set: Vec<String> = (POSITION_CONTENT.iter().enumerate())
        .map(|(i, column)| format!("{column} = {mark}{}", i + 1))
        .collect();
    format!(
        "UPDATE debt_position SET {}, version = version + 1 WHERE id = {mark}{} AND version = {mark}{}",
        set.join(", "),
        n + 1,
        n + 2
    )
}

/// The values that rewrite row `row` with `p`: its content, then the row and the version read.
pub(in crate::store) fn replaced_position_values(
    row: i64,
    p: &DebtPosition,
) -> Vec<ColumnValue<'_>> {
    let mut values = position_content(p).to_vec();
    values.extend([row.into(), p.version.into()]);
    values
}

/// The values of option `o` of `p`, under the position row `position_id`, for the columns of
/// `payment_option` in this order: position_id, organization, iuv, nav, amount, description,
/// is_partial_payment, due_date, retention_date, notification_fee, then those of
/// [`option_payment_values`], metadata, last_updated_date, send_sync.
pub(in crate::store) fn option_values<'a>(
    position_id: i64,
    p: &'a DebtPosition,
    o: &'a PaymentOption,
) -> Vec<ColumnValue<'a>> {
    let mut values = vec![
        position_id.into(),
        p.organization.as_str().into(),
        o.iuv.as_str().into(),
        o.nav.as_str().into(),
        o.amount.get().into(),
        o.description.as_str().into(),
        o.is_partial_payment.into(),
        millis(o.due_date).into(),
        o.retention_date.map(millis).into(),
        o.notification_fee.map(Cents::get).into(),
    ];
    values.extend(option_payment_values(o));
    values.extend([
        metadata_json(&o.metadata).into(),
        millis(o.last_updated_date).into(),
        o.send_sync.into(),
    ]);
    values
}

/// The values of an option's status and payment, for the columns status, payment_date,
/// payment_method, psp_company, receipt_id and fee.
fn option_payment_values(o: &PaymentOption) -> [ColumnValue<'_>; 6] {
    let pay = o.payment.as_ref();
    [
        o.status.as_str().into(),
        pay.map(|x| millis(x.payment_date)).into(),
        pay.and_then(|x| x.payment_method.as_deref()).into(),
        pay.and_then(|x| x.psp_company.as_deref()).into(),
        pay.map(|x| x.receipt_id.as_str()).into(),
        pay.map_or(0, |x| x.fee.get()).into(),
    ]
}

/// The values of transfer `tr`, under the option row `option_id`, for the columns of `transfer`
/// in this order: option_id, transfer_id, organization, company_name, amount,
/// remittance_information, category, iban, postal_iban, stamp_hash, stamp_type,
/// stamp_province, status, metadata.
pub(in crate::store) fn transfer_values(option_id: i64, tr: &Transfer) -> [ColumnValue<'_>; 14] {
    let (iban, postal, stamp) = match &tr.account {
        Account::Iban { iban, postal_iban } => (
            Some(iban.as_str()),
            postal_iban.as_ref().map(Iban::as_str),
            None,
        ),
        Account::Stamp(s) => (None, None, Some(s)),
    };
    [
        option_id.into(),
        i64::from(tr.id.get()).into(),
        tr.organization.as_str().into(),
        tr.company_name.as_ref().map(Text::as_str).into(),
        tr.amount.get().into(),
        tr.remittance_information.as_str().into(),
        tr.category.as_str().into(),
        iban.into(),
        postal.into(),
        stamp.map(|s| s.hash_document.as_str()).into(),
        stamp.map(|s| s.stamp_type.as_str()).into(),
        stamp.map(|s| s.provincial_residence.as_str()).into(),
        tr.status.as_str().into(),
        metadata_json(&tr.metadata).into(),
    ]
}

/// What a payment writes back, as the values of two statements: the position row's (status,
/// validity, publication, payment and last update dates, row id, version read, expiry) and the
/// paid option's ([`option_payment_values`], last update, row id).
pub(in crate::store) fn payment_values<'a>(
    position_row: i64,
    option_row: i64,
    p: &'a DebtPosition,
    paid: usize,
) -> ([ColumnValue<'a>; 8], Vec<ColumnValue<'a>>) {
    let o = &p.options[paid];
    let position = [
        p.status.as_str().into(),
        p.validity_date.map(millis).into(),
        p.publish_date.map(millis).into(),
        p.payment_date.map(millis).into(),
        millis(p.last_updated_date).into(),
        position_row.into(),
        p.version.into(),
        p.expires_after().map(millis).into(),
    ];
    let mut option = option_payment_values(o).to_vec();
    option.extend([millis(o.last_updated_date).into(), option_row.into()]);
    (position, option)
}

/// A `debt_position` row as read, before it is checked.
pub(in crate::store) struct PositionColumns {
    pub organization: String,
    pub iupd: String,
    pub status: String,
    pub company_name: String,
    pub office_name: Option<String>,
    /// From `debtor_type` to `phone`, in [`POSITION_CONTENT`]'s order.
    pub debtor: [Option<String>; 12],
    pub switch_to_expired: bool,
    pub pay_stand_in: bool,
    /// Validity, publication, payment, insertion, last update and erasure of personal data.
    pub dates: [Option<i64>; 6],
    pub version: i64,
}

/// The position of a row, with its options.
pub(in crate::store) fn position_from_columns(
    row: PositionColumns,
    options: Vec<PaymentOption>,
) -> Result<DebtPosition, StoreError> {
    let [
        dtype,
        dcode,
        dname,
        street,
        civic,
        postal,
        city,
        province,
        region,
        country,
        email,
        phone,
    ] = row.debtor;
    let subject = Subject {
        entity_type: dtype
            .as_deref()
            .and_then(EntityType::parse)
            .ok_or_else(|| corrupt("debtor_type", "not F or G"))?,
        entity_id: EntityId::parse(dcode.as_deref().unwrap_or_default())
            .map_err(|e| corrupt("debtor_fiscal_code", e))?,
        full_name: text(dname.unwrap_or_default(), "debtor_full_name")?,
        street_name: opt_text(street, "street_name")?,
        civic_number: opt_text(civic, "civic_number")?,
        postal_code: opt_text(postal, "postal_code")?,
        city: opt_text(city, "city")?,
        state_province_region: opt_text(province, "province")?,
        country: country
            .map(|c| CountryCode::parse(&c))
            .transpose()
            .map_err(|e| corrupt("country", e))?,
        email: email
            .map(|c| Email::parse(&c))
            .transpose()
            .map_err(|e| corrupt("email", e))?,
    };
    let [validity, publish, payment, inserted, updated, erased] = row.dates;
    Ok(DebtPosition {
        organization: FiscalCodePA::parse(&row.organization)
            .map_err(|e| corrupt("organization", e))?,
        iupd: Iupd::parse(&row.iupd).map_err(|e| corrupt("iupd", e))?,
        company_name: text(row.company_name, "company_name")?,
        office_name: opt_text(row.office_name, "office_name")?,
        debtor: Debtor {
            subject,
            region: opt_text(region, "region")?,
            phone: opt_text(phone, "phone")?,
        },
        switch_to_expired: row.switch_to_expired,
        pay_stand_in: row.pay_stand_in,
        validity_date: opt_millis(validity, "validity_date")?,
        status: PositionStatus::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?,
        publish_date: opt_millis(publish, "publish_date")?,
        payment_date: opt_millis(payment, "payment_date")?,
        inserted_date: from_millis(inserted.unwrap_or_default(), "inserted_date")?,
        last_updated_date: from_millis(updated.unwrap_or_default(), "last_updated_date")?,
        version: row.version,
        options,
        personal_data_erased: opt_millis(erased, "personal_data_erased_at")?,
    })
}

/// The columns of `payment_option` an option is read from, in the order [`payment_option_at`] takes
/// them.
pub(in crate::store) const OPTION_COLUMNS: &str = "iuv, nav, amount, description, \
    is_partial_payment, due_date, retention_date, notification_fee, status, payment_date, \
    payment_method, psp_company, receipt_id, fee, metadata, last_updated_date, send_sync";

/// An option, without its transfers, from the columns starting at `at`, in [`OPTION_COLUMNS`]
/// order.
pub(in crate::store) fn payment_option_at<R: ColumnRow>(
    r: &R,
    at: usize,
) -> Result<PaymentOption, StoreError> {
    let c = Columns::of(r, at);
    let status = c.string(8)?;
    let status =
        OptionStatus::parse(&status).ok_or_else(|| corrupt("payment_option.status", &status))?;
    let payment = match status {
        OptionStatus::Unpaid => None,
        _ => Some(OptionPayment {
            payment_date: from_millis(
                c.opt_int(9)?.unwrap_or_default(),
                "payment_option.payment_date",
            )?,
            payment_method: c.opt_string(10)?,
            psp_company: c.opt_string(11)?,
            receipt_id: c.opt_string(12)?.unwrap_or_default(),
            fee: cents(c.int(13)?, "payment_option.fee")?,
        }),
    };
    Ok(PaymentOption {
        iuv: Iuv::parse(&c.string(0)?).map_err(|e| corrupt("payment_option.iuv", e))?,
        nav: NoticeNumber::parse(&c.string(1)?).map_err(|e| corrupt("payment_option.nav", e))?,
        amount: cents(c.int(2)?, "payment_option.amount")?,
        description: text(c.string(3)?, "payment_option.description")?,
        is_partial_payment: c.boolean(4)?,
        due_date: from_millis(c.int(5)?, "payment_option.due_date")?,
        retention_date: opt_millis(c.opt_int(6)?, "payment_option.retention_date")?,
        notification_fee: c
            .opt_int(7)?
            .map(|v| cents(v, "payment_option.notification_fee"))
            .transpose()?,
        send_sync: c.boolean(16)?,
        status,
        payment,
        transfers: Vec::new(),
        metadata: metadata_from_json(&c.string(14)?, "payment_option.metadata")?,
        last_updated_date: from_millis(c.int(15)?, "payment_option.last_updated_date")?,
    })
}

/// The columns of `transfer` (as `t`) a transfer is read from, in the order [`transfer_at`]
/// takes them.
pub(in crate::store) const TRANSFER_COLUMNS: &str = "t.transfer_id, t.organization, \
    t.company_name, t.amount, t.remittance_information, t.category, t.iban, t.postal_iban, \
    t.stamp_hash, t.stamp_type, t.stamp_province, t.status, t.metadata";

/// A transfer from the columns starting at `at`, in [`TRANSFER_COLUMNS`] order.
pub(in crate::store) fn transfer_at<R: ColumnRow>(
    r: &R,
    at: usize,
) -> Result<Transfer, StoreError> {
    let c = Columns::of(r, at);
    let account = match (c.opt_string(6)?, c.opt_string(8)?) {
        (Some(iban), None) => Account::Iban {
            iban: Iban::parse(&iban).map_err(|e| corrupt("transfer.iban", e))?,
            postal_iban: c
                .opt_string(7)?
                .map(|p| Iban::parse(&p))
                .transpose()
                .map_err(|e| corrupt("transfer.postal_iban", e))?,
        },
        (None, Some(hash)) => Account::Stamp(StampRequest {
            hash_document: hash,
            stamp_type: c.opt_string(9)?.unwrap_or_default(),
            provincial_residence: CountryCode::parse(&c.opt_string(10)?.unwrap_or_default())
                .map_err(|e| corrupt("transfer.stamp_province", e))?,
        }),
        _ => {
            return Err(corrupt(
                "transfer.iban",
                "neither or both of IBAN and stamp",
            ));
        }
    };
    let status = c.string(11)?;
    Ok(Transfer {
        id: TransferId::new(c.int(0)?).map_err(|e| corrupt("transfer.transfer_id", e))?,
        organization: FiscalCodePA::parse(&c.string(1)?)
            .map_err(|e| corrupt("transfer.organization", e))?,
        company_name: opt_text(c.opt_string(2)?, "transfer.company_name")?,
        amount: cents(c.int(3)?, "transfer.amount")?,
        remittance_information: text(c.string(4)?, "transfer.remittance_information")?,
        category: text(c.string(5)?, "transfer.category")?,
        account,
        metadata: metadata_from_json(&c.string(12)?, "transfer.metadata")?,
        status: TransferStatus::parse(&status)
            .ok_or_else(|| corrupt("transfer.status", &status))?,
    })
}

/// A key's segregation codes as `api_key.segregation_codes` keeps them: NULL for every code,
/// else the codes sorted and comma-separated.
pub(in crate::store) fn segregation_list(scope: &SegregationScope) -> Option<String> {
    match scope {
        SegregationScope::All => None,
        only => Some(only.to_string()),
    }
}

/// A key's segregation codes read back from [`segregation_list`]'s form.
pub(in crate::store) fn segregation_scope(
    list: Option<String>,
    column: &str,
) -> Result<SegregationScope, StoreError> {
    match list {
        None => Ok(SegregationScope::All),
        Some(list) => SegregationScope::parse_list(&list)
            .and_then(SegregationScope::only)
            .map_err(|e| corrupt(column, e)),
    }
}

/// A broadcast station from its columns, as the station table and every delivery (which copies
/// them) keep them.
pub(in crate::store) fn station(
    organization: String,
    station_id: String,
    broker_id: String,
    url: String,
    version: i64,
    timeout_ms: i64,
    enabled: bool,
) -> Result<BroadcastStation, StoreError> {
    Ok(BroadcastStation {
        organization: FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("broadcast_station.organization", e))?,
        station_id: text(station_id, "broadcast_station.station_id")?,
        broker_id: text(broker_id, "broadcast_station.broker_id")?,
        url: StationUrl::parse(&url).map_err(|e| corrupt("broadcast_station.url", e))?,
        version: version_from(version, "broadcast_station.primitive_version")?,
        timeout: Duration::from_millis(timeout_ms.max(1) as u64),
        enabled,
    })
}

/// A result row of either store's driver, read by column index: what lets the assembly of a
/// record from its columns be written once for both.
pub(in crate::store) trait ColumnRow {
    type Error;
    fn string(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_string(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn boolean(&self, i: usize) -> Result<bool, Self::Error>;
    fn opt_boolean(&self, i: usize) -> Result<Option<bool>, Self::Error>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>, Self::Error>;
    /// The store's error for a column that cannot be read.
    fn failure(e: Self::Error) -> StoreError;
}

/// The columns of a result row from index `at` on, read by their place from there; a column
/// that cannot be read is the store's error.
pub(in crate::store) struct Columns<'r, R> {
    row: &'r R,
    at: usize,
}

impl<'r, R: ColumnRow> Columns<'r, R> {
    pub(in crate::store) fn of(row: &'r R, at: usize) -> Self {
        Columns { row, at }
    }

    pub(in crate::store) fn string(&self, i: usize) -> Result<String, StoreError> {
        self.row.string(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn opt_string(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.row.opt_string(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.row.int(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.row.opt_int(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        self.row.boolean(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn opt_boolean(&self, i: usize) -> Result<Option<bool>, StoreError> {
        self.row.opt_boolean(self.at + i).map_err(R::failure)
    }

    pub(in crate::store) fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.row.bytes(self.at + i).map_err(R::failure)
    }
}

/// The columns a position is read from: identity, creation and version, then
/// [`POSITION_CONTENT`].
pub(in crate::store) static POSITION_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "id, organization, iupd, inserted_date, version, {}",
        POSITION_CONTENT.join(", ")
    )
});

/// The row id and the columns of a position read as [`POSITION_COLUMNS`].
pub(in crate::store) fn position_row<R: ColumnRow>(
    r: &R,
) -> Result<(i64, PositionColumns), R::Error> {
    // Where the content starts.
    const C: usize = 5;
    let mut debtor: [Option<String>; 12] = Default::default();
    for (i, slot) in debtor.iter_mut().enumerate() {
        *slot = r.opt_string(C + 3 + i)?;
    }
    let columns = PositionColumns {
        organization: r.string(1)?,
        iupd: r.string(2)?,
        status: r.string(C)?,
        company_name: r.string(C + 1)?,
        office_name: r.opt_string(C + 2)?,
        debtor,
        switch_to_expired: r.boolean(C + 15)?,
        pay_stand_in: r.boolean(C + 16)?,
        dates: [
            r.opt_int(C + 17)?,
            r.opt_int(C + 18)?,
            r.opt_int(C + 19)?,
            r.opt_int(3)?,
            r.opt_int(C + 20)?,
            r.opt_int(C + 23)?,
        ],
        version: r.int(4)?,
    };
    Ok((r.int(0)?, columns))
}

/// The columns of a broadcast station, as the station table and every delivery keep them.
pub(in crate::store) const STATION_COLUMNS: &str =
    "organization, station_id, broker_id, url, primitive_version, timeout_ms, enabled";

/// The values of a station's first six [`STATION_COLUMNS`], all but `enabled`: what a delivery
/// keeps of it.
pub(in crate::store) fn station_values(s: &BroadcastStation) -> [ColumnValue<'_>; 6] {
    [
        s.organization.as_str().into(),
        s.station_id.as_str().into(),
        s.broker_id.as_str().into(),
        s.url.as_str().into(),
        i64::from(s.version.number()).into(),
        (s.timeout.as_millis() as i64).into(),
    ]
}

/// The values of a new delivery's row, made at `now` for receipt row `receipt`, for the
/// columns [`station_values`] fills, then receipt, state, next_attempt_at, last_error and
/// created_at: PENDING, first tried at [`first_retry_at`], when it has a request, else
/// UNDELIVERABLE with why.
pub(in crate::store) fn new_delivery_values<'a>(
    receipt: i64,
    delivery: &'a NewDelivery<'a>,
    now: NaiveDateTime,
) -> Vec<ColumnValue<'a>> {
    let s = delivery.station;
    let (state, next, error) = match &delivery.request {
        Ok(_) => (
            DeliveryState::Pending,
            Some(millis(first_retry_at(s, now))),
            None,
        ),
        Err(reason) => (DeliveryState::Undeliverable, None, Some(reason.as_str())),
    };
    let mut values = station_values(s).to_vec();
    values.extend([
        receipt.into(),
        state.as_str().into(),
        next.into(),
        error.into(),
        millis(now).into(),
    ]);
    values
}

/// A station from the seven columns starting at `at`, in [`STATION_COLUMNS`] order.
pub(in crate::store) fn station_at<R: ColumnRow>(
    r: &R,
    at: usize,
) -> Result<BroadcastStation, StoreError> {
    let c = Columns::of(r, at);
    station(
        c.string(0)?,
        c.string(1)?,
        c.string(2)?,
        c.string(3)?,
        c.int(4)?,
        c.int(5)?,
        c.boolean(6)?,
    )
}

/// A delivery as listed, from its columns: id, the station's seven, attempts, then the
/// receipt's id, creditor and IUV, state, next attempt, error, fault code and times.
pub(in crate::store) fn listed_delivery<R: ColumnRow>(r: &R) -> Result<Delivery, StoreError> {
    let c = Columns::of(r, 0);
    let state = c.string(12)?;
    let notice_org = c.string(10)?;
    let attempts = c.int(8)?;
    Ok(Delivery {
        id: c.int(0)?,
        station: station_at(r, 1)?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("delivery.attempts", attempts))?,
        receipt_id: c.string(9)?,
        notice_organization: FiscalCodePA::parse(&notice_org)
            .map_err(|e| corrupt("receipt.organization", e))?,
        iuv: c.string(11)?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery.state", &state))?,
        next_attempt_at: opt_millis(c.opt_int(13)?, "delivery.next_attempt_at")?,
        last_error: c.opt_string(14)?,
        fault_code: c.opt_string(15)?,
        created_at: from_millis(c.opt_int(16)?.unwrap_or_default(), "delivery.created_at")?,
        updated_at: from_millis(c.opt_int(17)?.unwrap_or_default(), "delivery.updated_at")?,
        delivered_at: opt_millis(c.opt_int(18)?, "delivery.delivered_at")?,
    })
}

/// The delivery columns an attempt's result writes: state, next attempt, error, fault code,
/// delivery time.
pub(in crate::store) struct AttemptColumns<'a> {
    pub state: DeliveryState,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<&'a str>,
    pub fault_code: Option<&'a str>,
    pub delivered_at: Option<i64>,
}

/// What an attempt's result, recorded at `now`, writes into its delivery.
pub(in crate::store) fn attempt_columns(
    record: &AttemptRecord,
    now: NaiveDateTime,
) -> AttemptColumns<'_> {
    let unset = AttemptColumns {
        state: DeliveryState::Pending,
        next_attempt_at: None,
        last_error: None,
        fault_code: None,
        delivered_at: None,
    };
    match record {
        AttemptRecord::Delivered => AttemptColumns {
            state: DeliveryState::Delivered,
            delivered_at: Some(millis(now)),
            ..unset
        },
        AttemptRecord::Rejected {
            fault_code,
            description,
        } => AttemptColumns {
            state: DeliveryState::Rejected,
            last_error: Some(description),
            fault_code: Some(fault_code),
            ..unset
        },
        AttemptRecord::Retry {
            error,
            next_attempt_at,
        } => AttemptColumns {
            state: DeliveryState::Pending,
            next_attempt_at: Some(millis(*next_attempt_at)),
            last_error: Some(error),
            ..unset
        },
        AttemptRecord::GiveUp { error } => AttemptColumns {
            state: DeliveryState::Failed,
            last_error: Some(error),
            ..unset
        },
    }
}

/// The columns of `receipt` a listing reads, in the order [`receipt_summary`] takes them.
pub(in crate::store) const RECEIPT_SUMMARY_COLUMNS: &str = "organization, receipt_id, recipient, \
    iuv, nav, version, status, flag, flag_description, amount, debtor, payer, psp_id, psp_company, \
    payment_date_time, stand_in, received_at, origin, unbound_station";

/// A listed receipt read as [`RECEIPT_SUMMARY_COLUMNS`].
pub(in crate::store) fn receipt_summary<R: ColumnRow>(r: &R) -> Result<ReceiptSummary, StoreError> {
    let c = Columns::of(r, 0);
    let (organization, nav, status) = (c.string(0)?, c.string(4)?, c.string(6)?);
    let origin = c.string(17)?;
    Ok(ReceiptSummary {
        organization: FiscalCodePA::parse(&organization)
            .map_err(|e| corrupt("receipt.organization", e))?,
        receipt_id: c.string(1)?,
        recipient: c.string(2)?,
        iuv: c.string(3)?,
        notice_number: NoticeNumber::parse(&nav)
            .map_err(|e| corrupt("receipt.nav", e))?
            .to_string(),
        version: version_from(c.int(5)?, "receipt.version")?,
        status: ReceiptStatus::parse(&status).ok_or_else(|| corrupt("receipt.status", &status))?,
        flag: c.opt_string(7)?,
        flag_description: c.opt_string(8)?,
        amount: cents(c.int(9)?, "receipt.amount")?,
        debtor: c.string(10)?,
        payer: c.opt_string(11)?,
        psp_id: c.string(12)?,
        psp_company: c.string(13)?,
        payment_date_time: c.opt_string(14)?,
        stand_in: c.opt_boolean(15)?,
        received_at: from_millis(c.int(16)?, "receipt.received_at")?,
        origin: ReceiptOrigin::parse(&origin).ok_or_else(|| corrupt("receipt.origin", &origin))?,
        unbound_station: c.opt_string(18)?,
    })
}

/// What a listing reads: its columns, from what (a FROM clause), the rows of what it counts
/// (the same, or the main table when the others are joined only for more columns), in which
/// order.
pub(in crate::store) struct Listing {
    pub(in crate::store) columns: &'static str,
    pub(in crate::store) from: &'static str,
    pub(in crate::store) counted: &'static str,
    pub(in crate::store) order: &'static str,
}

impl Listing {
    /// A listing that counts what it reads.
    pub(in crate::store) const fn new(
        columns: &'static str,
        from: &'static str,
        order: &'static str,
    ) -> Self {
        Listing {
            columns,
            from,
            counted: from,
            order,
        }
    }

    /// The statement that counts the rows `condition` keeps.
    pub(in crate::store) fn count_sql(&self, condition: &str) -> String {
        format!("SELECT count(*) FROM {} WHERE {condition}", self.counted)
    }

    /// The statement that reads the rows `condition` keeps, in order, within `limit` (a LIMIT
    /// and OFFSET clause).
    pub(in crate::store) fn select_sql(&self, condition: &str, limit: &str) -> String {
        format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {} {limit}",
            self.columns, self.from, self.order
        )
    }
}

/// A listing of receipts, newest first.
pub(in crate::store) const RECEIPT_LISTING: Listing = Listing::new(
    RECEIPT_SUMMARY_COLUMNS,
    "receipt",
    "received_at DESC, id DESC",
);

/// A listing of journal entries, newest first.
pub(in crate::store) const JOURNAL_LISTING: Listing =
    Listing::new(JOURNAL_COLUMNS, "event_journal", "at DESC, id DESC");

/// The columns a listed delivery is read from, as [`listed_delivery`] takes them: of the
/// delivery (alias `d`) and of its receipt (`r`).
pub(in crate::store) const LISTED_DELIVERY_COLUMNS: &str = "d.id, d.organization, d.station_id, \
    d.broker_id, d.url, d.primitive_version, d.timeout_ms, true, d.attempts, r.receipt_id, \
    r.organization, r.iuv, d.state, d.next_attempt_at, d.last_error, d.fault_code, d.created_at, \
    d.updated_at, d.delivered_at";

/// A listing of deliveries with their receipts' identifiers, newest first; it counts the
/// deliveries.
pub(in crate::store) const DELIVERY_LISTING: Listing = Listing {
    counted: "delivery d",
    ..Listing::new(
        LISTED_DELIVERY_COLUMNS,
        "delivery d JOIN receipt r ON r.id = d.receipt",
        "d.id DESC",
    )
};

/// The statement that writes an erased debtor ([`debtor_values`], the erasure time) into a
/// position's row at its next version, if it is still at the version read; `$n` or `?n`
/// placeholders by `mark`. The debtor's columns are those of [`POSITION_CONTENT`].
pub(in crate::store) fn erase_debtor_sql(mark: char) -> String {
    let set: Vec<String> = POSITION_CONTENT[3..15]
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = {mark}{}", i + 1))
        .collect();
    format!(
        "UPDATE debt_position SET {}, personal_data_erased_at = {mark}13, version = version + 1
         WHERE id = {mark}14 AND version = {mark}15",
        set.join(", ")
    )
}

/// What [`erase_debtor_sql`] binds to erase the debtor of `position`, read from row `id`, at
/// `now`: the debtor's columns as the domain's erasure leaves them, the erasure time, the row
/// and the version read.
pub(in crate::store) fn erased_debtor_values(
    id: i64,
    mut position: DebtPosition,
    now: NaiveDateTime,
) -> Vec<ColumnValue<'static>> {
    position.erase_personal_data(now);
    let mut values: Vec<ColumnValue> = debtor_values(&position)
        .into_iter()
        .map(ColumnValue::from)
        .collect();
    values.extend([millis(now).into(), id.into(), position.version.into()]);
    values
}

/// Names of our own constants (statuses) as an SQL list, `'A', 'B'`: never the caller's text, so
/// they are written into the statement, one per set of them.
pub(in crate::store) fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("'{n}'")).collect();
    quoted.join(", ")
}

/// The values of a position's debtor columns, in [`POSITION_CONTENT`]'s order.
pub(in crate::store) fn debtor_values(p: &DebtPosition) -> [Option<String>; 12] {
    let d = &p.debtor;
    let s = &d.subject;
    let text = |t: &Option<Text<70>>| t.as_ref().map(|t| t.as_str().to_owned());
    [
        Some(s.entity_type.as_str().to_owned()),
        Some(s.entity_id.as_str().to_owned()),
        Some(s.full_name.as_str().to_owned()),
        text(&s.street_name),
        s.civic_number.as_ref().map(|t| t.as_str().to_owned()),
        s.postal_code.as_ref().map(|t| t.as_str().to_owned()),
        s.city.as_ref().map(|t| t.as_str().to_owned()),
        s.state_province_region
            .as_ref()
            .map(|t| t.as_str().to_owned()),
        d.region.as_ref().map(|t| t.as_str().to_owned()),
        s.country.as_ref().map(|c| c.as_str().to_owned()),
        s.email.as_ref().map(|e| e.as_str().to_owned()),
        d.phone.as_ref().map(|t| t.as_str().to_owned()),
    ]
}

/// The columns of a data subject's receipt: [`RECEIPT_SUMMARY_COLUMNS`], then the document and
/// the erasure time.
pub(in crate::store) static SUBJECT_RECEIPT_COLUMNS: LazyLock<String> =
    LazyLock::new(|| format!("{RECEIPT_SUMMARY_COLUMNS}, document, personal_data_erased_at"));

/// A data subject's receipt read as [`SUBJECT_RECEIPT_COLUMNS`].
pub(in crate::store) fn subject_receipt<R: ColumnRow>(r: &R) -> Result<SubjectReceipt, StoreError> {
    let c = Columns::of(r, 19);
    Ok(SubjectReceipt {
        summary: receipt_summary(r)?,
        document: c.bytes(0)?,
        personal_data_erased: opt_millis(c.opt_int(1)?, "receipt.personal_data_erased_at")?,
    })
}

/// The columns of a journal entry, in the order [`journal_entry`] reads them and the stores
/// insert them.
pub(in crate::store) const JOURNAL_COLUMNS: &str = "at, kind, organization, primitive, \
    broker_id, station_id, notice_number, iuv, iupd_digest, receipt_id, key_id, method, route, \
    status, outcome, fault_code, error, attempt, duration_us";

/// How many columns [`JOURNAL_COLUMNS`] names.
pub(in crate::store) const JOURNAL_WIDTH: usize = 19;

/// A journal entry's texts, in [`JOURNAL_COLUMNS`] order from `organization` to `route`.
pub(in crate::store) fn journal_texts(e: &JournalEntry) -> [Option<&str>; 11] {
    [
        e.organization.as_deref(),
        e.primitive.as_deref(),
        e.broker_id.as_deref(),
        e.station_id.as_deref(),
        e.notice_number.as_deref(),
        e.iuv.as_deref(),
        e.iupd_digest.as_deref(),
        e.receipt_id.as_deref(),
        e.key_id.as_deref(),
        e.method.as_deref(),
        e.route.as_deref(),
    ]
}

/// A journal entry read as [`JOURNAL_COLUMNS`].
pub(in crate::store) fn journal_entry<R: ColumnRow>(r: &R) -> Result<JournalEntry, StoreError> {
    let text = |i| r.opt_string(i).map_err(R::failure);
    let kind = r.string(1).map_err(R::failure)?;
    let outcome = r.string(14).map_err(R::failure)?;
    let count = |i, column| -> Result<Option<i64>, StoreError> {
        let n = r.opt_int(i).map_err(R::failure)?;
        match n {
            Some(n) if n < 0 => Err(corrupt(column, n)),
            n => Ok(n),
        }
    };
    Ok(JournalEntry {
        at: from_millis(r.int(0).map_err(R::failure)?, "event_journal.at")?,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("event_journal.kind", &kind))?,
        organization: text(2)?,
        primitive: text(3)?,
        broker_id: text(4)?,
        station_id: text(5)?,
        notice_number: text(6)?,
        iuv: text(7)?,
        iupd_digest: text(8)?,
        receipt_id: text(9)?,
        key_id: text(10)?,
        method: text(11)?,
        route: text(12)?,
        status: count(13, "event_journal.status")?
            .map(|n| u16::try_from(n).map_err(|_| corrupt("event_journal.status", n)))
            .transpose()?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| corrupt("event_journal.outcome", &outcome))?,
        fault_code: text(15)?,
        error: text(16)?,
        attempt: count(17, "event_journal.attempt")?
            .map(|n| u32::try_from(n).map_err(|_| corrupt("event_journal.attempt", n)))
            .transpose()?,
        duration_us: count(18, "event_journal.duration_us")?.unwrap_or(0) as u64,
    })
}
