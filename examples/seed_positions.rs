//! Bulk-loads benchmark data: `--count N` published (VALID) debt positions for creditor
//! 77777777777 in the store under `--data DIR`, or in the PostgreSQL database `--store URL`
//! names, inserted through the library in transactions of `--batch` positions (10 000 by
//! default), `--jobs` of them at once (1 by default; on PostgreSQL each on a connection of its
//! own, where one connection waits on a round trip per statement).
//!
//! Position `n` (1..=N) has IUPD `BENCH-n` and one payment option whose IUV is segregation code
//! 01 + IUV base `n` (13 digits) + the mod-93 check digits, so its notice number is `3` + IUV:
//! 100.00 EUR due on 2099-12-31, two transfers (70.00 to the creditor on a bank IBAN with a postal
//! IBAN too, 30.00 to creditor 88888888888), a debtor with address and e-mail, one metadata entry.
//!
//! ```sh
//! cargo run --release --example seed_positions -- --data /tmp/gpd-bench --count 100000
//! cargo run --release --example seed_positions -- --store 'host=/tmp/pg user=postgres' --count 1000
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime};
use gpd_gateway::domain::party::{CountryCode, Email, EntityId, EntityType, MapEntry, Subject};
use gpd_gateway::domain::position::{
    Account, DebtPosition, Debtor, Iban, Iupd, OptionStatus, PaymentOption, PositionStatus,
    Transfer, TransferStatus,
};
use gpd_gateway::domain::{Cents, FiscalCodePA, Iuv, SegregationCode, Text, TransferId};
use gpd_gateway::store::postgres::PgStore;
use gpd_gateway::store::sqlite::SqliteStore;
use gpd_gateway::store::{Store, StoreError};
use tokio::task::JoinSet;

const USAGE: &str =
    "usage: seed_positions (--data DIR | --store URL) --count N [--batch B] [--jobs J]";
const ORGANIZATION: &str = "77777777777";

/// Where the positions go.
enum Target {
    Data(PathBuf),
    Store(String),
}

struct Args {
    target: Target,
    count: u64,
    batch: usize,
    jobs: usize,
}

fn parse_args() -> Result<Args, String> {
    let (mut target, mut count, mut batch, mut jobs) = (None, None, 10_000usize, 1usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--data" | "--store" if target.is_some() => {
                return Err(format!("--data and --store are one or the other\n{USAGE}"));
            }
            "--data" => target = Some(Target::Data(PathBuf::from(value("--data")?))),
            "--store" => target = Some(Target::Store(value("--store")?)),
            "--count" => {
                let v = value("--count")?;
                count = Some(v.parse().map_err(|e| format!("--count {v}: {e}"))?);
            }
            "--batch" => {
                let v = value("--batch")?;
                batch = v.parse().map_err(|e| format!("--batch {v}: {e}"))?;
            }
            "--jobs" => {
                let v = value("--jobs")?;
                jobs = v.parse().map_err(|e| format!("--jobs {v}: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let count = count.ok_or(USAGE)?;
    if count == 0 || count >= 10u64.pow(13) || batch == 0 || jobs == 0 {
        return Err("--count must be 1..10^13, --batch and --jobs at least 1".into());
    }
    Ok(Args {
        target: target.ok_or(USAGE)?,
        count,
        batch,
        jobs,
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
        send_sync: false,
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (store, at): (Arc<dyn Store>, String) = match &args.target {
        Target::Data(data) => {
            let store = SqliteStore::open(data).map_err(|e| e.to_string())?;
            let at = format!("{} at {}", data.display(), store.path().display());
            (Arc::new(store), at)
        }
        Target::Store(url) => {
            let store = runtime
                .block_on(PgStore::connect(url, args.jobs))
                .map_err(|e| e.to_string())?;
            (
                Arc::new(store),
                "the PostgreSQL database --store names".into(),
            )
        }
    };
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

    runtime.block_on(async {
        let mut running = JoinSet::new();
        let mut next = 1u64;
        while next <= args.count || !running.is_empty() {
            if next <= args.count && running.len() < args.jobs {
                let end = (next + args.batch as u64 - 1).min(args.count);
                let batch = (next..=end).map(|base| position(base, now, due)).collect();
                let store = Arc::clone(&store);
                running.spawn(async move {
                    let imported = async {
                        let outcomes = store.import_positions(batch).await?;
                        outcomes
                            .into_iter()
                            .collect::<Result<Vec<()>, StoreError>>()
                    };
                    let imported = imported.await;
                    imported
                        .map(drop)
                        .map_err(|e| format!("positions {next}..={end}: {e}"))
                });
                next = end + 1;
                continue;
            }
            if let Some(done) = running.join_next().await {
                done.map_err(|e| e.to_string())??;
            }
        }
        Ok::<_, String>(())
    })?;
    let elapsed = started.elapsed();
    println!(
        "seeded {} positions in {} in {:.2} s ({:.0} positions/s); notices 3{}..3{}",
        args.count,
        at,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64(),
        Iuv::from_parts(SegregationCode::parse("01").expect("seg"), 1).expect("iuv"),
        Iuv::from_parts(SegregationCode::parse("01").expect("seg"), args.count).expect("iuv"),
    );
    Ok(())
}
