//! Bulk-loads benchmark data: `--count N` published (VALID) debt positions for creditor
//! 77777777777 in the store under `--data DIR`, inserted through the library in transactions of
//! `--batch` positions (10 000 by default).
//!
//! Position `n` (1..=N) has IUPD `BENCH-n` and one payment option whose IUV is segregation code
//! 01 + IUV base `n` (13 digits) + the mod-93 check digits, so its notice number is `3` + IUV:
//! 100.00 EUR due on 2099-12-31, two transfers (70.00 to the creditor on a bank IBAN with a postal
//! IBAN too, 30.00 to creditor 88888888888), a debtor with address and e-mail, one metadata entry.
//!
//! ```sh
//! cargo run --release --example seed_positions -- --data /tmp/gpd-bench --count 100000
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime};
use gpd_gateway::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use gpd_gateway::domain::position::{
    Account, DebtPosition, Debtor, Iban, Iupd, OptionStatus, PaymentOption, PositionStatus,
    Transfer, TransferStatus,
};
use gpd_gateway::domain::{Cents, FiscalCodePA, Iuv, SegregationCode, Text, TransferId};
use gpd_gateway::store::Store;
use gpd_gateway::store::sqlite::SqliteStore;

const USAGE: &str = "usage: seed_positions --data DIR --count N [--batch B]";
const ORGANIZATION: &str = "77777777777";

struct Args {
    data: PathBuf,
    count: u64,
    batch: usize,
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut count, mut batch) = (None, None, 10_000usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--data" => data = Some(PathBuf::from(value("--data")?)),
            "--count" => {
                let v = value("--count")?;
                count = Some(v.parse().map_err(|e| format!("--count {v}: {e}"))?);
            }
            "--batch" => {
                let v = value("--batch")?;
                batch = v.parse().map_err(|e| format!("--batch {v}: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let count = count.ok_or(USAGE)?;
    if count == 0 || count >= 10u64.pow(13) || batch == 0 {
        return Err("--count must be 1..10^13 and --batch at least 1".into());
    }
    Ok(Args {
        data: data.ok_or(USAGE)?,
        count,
        batch,
    })
}

fn text<const N: usize>(s: &str) -> Text<N> {
    Text::new(s).expect("valid text")
}

fn transfer(id: i64, organization: &str, cents: i64, iban: &str, postal: Option<&str>) -> Transfer {
    Transfer {
        id: TransferId::new(id).expect("transfer id"),
        organization: FiscalCodePA::parse(organization).expect("fiscal code"),
        company_name: None,
        amount: Cents::new(cents).expect("amount"),
        remittance_information: text("TARI 2025 - saldo"),
        category: text("9/0101108TS/"),
        account: Account::Iban {
            iban: Iban::parse(iban).expect("iban"),
            postal_iban: postal.map(|p| Iban::parse(p).expect("postal iban")),
        },
        metadata: vec![],
        status: TransferStatus::Unreported,
    }
}

fn position(base: u64, now: NaiveDateTime, due: NaiveDateTime) -> DebtPosition {
    let segregation = SegregationCode::parse("01").expect("segregation code");
    let iuv = Iuv::from_parts(segregation, base).expect("iuv");
    let option = PaymentOption {
        nav: iuv.notice_number(),
        iuv,
        amount: Cents::new(10_000).expect("amount"),
        description: text("TARI 2025 - saldo"),
        is_partial_payment: false,
        due_date: due,
        retention_date: None,
        notification_fee: None,
        status: OptionStatus::Unpaid,
        payment: None,
        transfers: vec![
            transfer(
                1,
                ORGANIZATION,
                7_000,
                "IT60X0542811101000000123456",
                Some("IT21Q0760101600000000654321"),
            ),
            transfer(2, "88888888888", 3_000, "IT02A0301503200000003517230", None),
        ],
        metadata: vec![MapEntry {
            key: text("anno"),
            value: text("2025"),
        }],
        last_updated_date: now,
    };
    let debtor = Debtor {
        subject: Subject {
            entity_type: EntityType::F,
            entity_id: EntityId::parse("RSSMRA80A01H501U").expect("fiscal code"),
            full_name: text("Mario Rossi"),
            street_name: Some(text("Via Roma")),
            civic_number: Some(text("1")),
            postal_code: Some(text("00100")),
            city: Some(text("Roma")),
            state_province_region: Some(text("RM")),
            country: Some(CountryCode::parse("IT").expect("country")),
            email: Some(Email::parse("mario.rossi@example.it").expect("email")),
        },
        region: Some(text("Lazio")),
        phone: None,
    };
    let mut p = DebtPosition {
        office_name: Some(text("Ufficio Tributi")),
        ..DebtPosition::draft(
            FiscalCodePA::parse(ORGANIZATION).expect("fiscal code"),
            Iupd::parse(&format!("BENCH-{base}")).expect("iupd"),
            text("Comune di Esempio"),
            debtor,
            vec![option],
            now,
        )
    };
    p.apply_publication(now);
    p
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_positions: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let started = Instant::now();
    let store = SqliteStore::open(&args.data).map_err(|e| e.to_string())?;
    // The store's own clock convention: naive UTC to the millisecond.
    let now = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis())
        .expect("in range")
        .naive_utc();
    let due = NaiveDate::from_ymd_opt(2099, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .expect("date");
    let sample = position(1, now, due);
    if let Some(e) = sample.check_structure().first() {
        return Err(format!("the generated position is invalid: {e}"));
    }
    assert_eq!(sample.status, PositionStatus::Valid);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let mut batch = Vec::with_capacity(args.batch);
    let mut next = 1u64;
    while next <= args.count {
        batch.clear();
        let end = (next + args.batch as u64 - 1).min(args.count);
        batch.extend((next..=end).map(|base| position(base, now, due)));
        let outcomes = runtime
            .block_on(store.import_positions(std::mem::take(&mut batch)))
            .map_err(|e| format!("positions {next}..={end}: {e}"))?;
        if let Some(e) = outcomes.into_iter().find_map(Result::err) {
            return Err(format!("positions {next}..={end}: {e}"));
        }
        next = end + 1;
    }
    let elapsed = started.elapsed();
    println!(
        "seeded {} positions in {} at {} in {:.2} s ({:.0} positions/s); notices 3{}..3{}",
        args.count,
        args.data.display(),
        store.path().display(),
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64(),
        Iuv::from_parts(SegregationCode::parse("01").expect("seg"), 1).expect("iuv"),
        Iuv::from_parts(SegregationCode::parse("01").expect("seg"), args.count).expect("iuv"),
    );
    Ok(())
}
