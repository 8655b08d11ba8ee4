//! Writes `--count N` debt positions for creditor 77777777777 as an import file, JSON lines or
//! CSV (`--format`), for `gpd-gateway import` and `bench/import.sh`.
//!
//! The mix is meant to look like a municipality's yearly run, and is the same for a given
//! `--seed`: a third of the positions have one payment option, a third two installments, a third
//! a single payment plus two installments; each option pays one transfer to the creditor (bank
//! IBAN), or two (70 % to the creditor, 30 % to creditor 88888888888), with a postal IBAN on some.
//! Debtors are people or companies, half with an address and e-mail. Amounts are 10.00 to
//! 2,000.00 EUR, due dates in 2099. Position `n` has IUPD `IMPORT-n`; IUVs are segregation code
//! 01 + a running 13-digit base from `--first-iuv` (1) + check digits, so files generated with
//! disjoint bases import side by side.
//!
//! ```sh
//! cargo run --release --example gen_positions -- --count 100000 --format csv --out /tmp/p.csv
//! ```
//!
//! Prints `positions=… options=… transfers=… bytes=…` on standard error.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use gpd_gateway::domain::{Iuv, SegregationCode};
use serde_json::{Value, json};

const USAGE: &str =
    "usage: gen_positions [--count N] [--format jsonl|csv] [--out FILE] [--seed S] [--first-iuv B]";
const CSV_HEADER: &[&str] = &[
    "iupd",
    "type",
    "fiscalCode",
    "fullName",
    "streetName",
    "civicNumber",
    "postalCode",
    "city",
    "province",
    "country",
    "email",
    "companyName",
    "officeName",
    "switchToExpired",
    "iuv",
    "amount",
    "description",
    "isPartialPayment",
    "dueDate",
    "transfer.idTransfer",
    "transfer.amount",
    "transfer.organizationFiscalCode",
    "transfer.remittanceInformation",
    "transfer.category",
    "transfer.iban",
    "transfer.postalIban",
];

struct Args {
    count: u64,
    csv: bool,
    out: Option<String>,
    seed: u64,
    first_iuv: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        count: 100_000,
        csv: false,
        out: None,
        seed: 1,
        first_iuv: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--count" => a.count = number(value()?)?,
            "--seed" => a.seed = number(value()?)?.max(1),
            "--first-iuv" => a.first_iuv = number(value()?)?,
            "--out" => a.out = Some(value()?),
            "--format" => {
                a.csv = match value()?.as_str() {
                    "csv" => true,
                    "jsonl" => false,
                    other => return Err(format!("unknown format {other}\n{USAGE}")),
                }
            }
            _ => return Err(USAGE.into()),
        }
    }
    Ok(a)
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

struct Transfer {
    id: u8,
    cents: i64,
    organization: Option<&'static str>,
    iban: &'static str,
    postal: Option<&'static str>,
}

struct Option_ {
    iuv: String,
    cents: i64,
    description: String,
    partial: bool,
    due: String,
    transfers: Vec<Transfer>,
}

struct Position {
    iupd: String,
    person: bool,
    fiscal_code: String,
    full_name: String,
    address: Option<(
        &'static str,
        String,
        &'static str,
        &'static str,
        &'static str,
    )>,
    email: Option<String>,
    options: Vec<Option_>,
}

const SURNAMES: &[&str] = &[
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
];
const NAMES: &[&str] = &[
    "Mario",
    "Giulia",
    "Luca",
    "Francesca",
    "Marco",
    "Sara",
    "Paolo",
    "Anna",
];
const STREETS: &[&str] = &[
    "Via Roma",
    "Via Garibaldi",
    "Corso Italia",
    "Piazza Duomo",
    "Via Mazzini",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Roma", "RM", "00100"),
    ("Milano", "MI", "20100"),
    ("Napoli", "NA", "80100"),
    ("Torino", "TO", "10100"),
];

fn generate(rng: &mut Rng, n: u64, next_iuv: &mut u64) -> Position {
    let person = rng.below(4) != 0;
    let (fiscal_code, full_name) = if person {
        let (s, f) = (rng.pick(SURNAMES), rng.pick(NAMES));
        (
            format!(
                "{}{}80A01H501U",
                &s[..3].to_uppercase(),
                &f[..3].to_uppercase()
            ),
            format!("{f} {s}"),
        )
    } else {
        (
            format!("{:011}", 10_000_000_000 + rng.below(89_999_999_999)),
            format!("{} S.r.l.", rng.pick(SURNAMES)),
        )
    };
    let address = (rng.below(2) == 0).then(|| {
        let (city, province, cap) = CITIES[rng.below(CITIES.len() as u64) as usize];
        (
            rng.pick(STREETS),
            (1 + rng.below(200)).to_string(),
            cap,
            city,
            province,
        )
    });
    let email = address.is_some().then(|| format!("debitore{n}@example.it"));
    let mut option = |rng: &mut Rng, description: String, partial: bool, due: &str| {
        let cents = 1_000 + rng.below(199_000) as i64;
        let iuv = Iuv::from_parts(SegregationCode::parse("01").expect("code"), *next_iuv)
            .expect("iuv base fits 13 digits")
            .to_string();
        *next_iuv += 1;
        let transfers = if rng.below(3) == 0 {
            let share = cents * 7 / 10;
            vec![
                Transfer {
                    id: 1,
                    cents: share,
                    organization: None,
                    iban: "IT60X0542811101000000123456",
                    postal: (rng.below(4) == 0).then_some("IT21Q0760101600000000654321"),
                },
                Transfer {
                    id: 2,
                    cents: cents - share,
                    organization: Some("88888888888"),
                    iban: "IT02A0301503200000003517230",
                    postal: None,
                },
            ]
        } else {
            vec![Transfer {
                id: 1,
                cents,
                organization: None,
                iban: "IT60X0542811101000000123456",
                postal: None,
            }]
        };
        Option_ {
            iuv,
            cents,
            description,
            partial,
            due: due.to_owned(),
            transfers,
        }
    };
    let year = 2025 + n % 2;
    let options = match rng.below(3) {
        0 => vec![option(
            rng,
            format!("TARI {year}"),
            false,
            "2099-06-30T23:59:59",
        )],
        1 => vec![
            option(
                rng,
                format!("TARI {year} rata 1"),
                true,
                "2099-06-30T23:59:59",
            ),
            option(
                rng,
                format!("TARI {year} rata 2"),
                true,
                "2099-12-31T23:59:59",
            ),
        ],
        _ => vec![
            option(
                rng,
                format!("TARI {year} unica"),
                false,
                "2099-06-30T23:59:59",
            ),
            option(
                rng,
                format!("TARI {year} rata 1"),
                true,
                "2099-06-30T23:59:59",
            ),
            option(
                rng,
                format!("TARI {year} rata 2"),
                true,
                "2099-12-31T23:59:59",
            ),
        ],
    };
    Position {
        iupd: format!("IMPORT-{n}"),
        person,
        fiscal_code,
        full_name,
        address,
        email,
        options,
    }
}

fn to_json(p: &Position) -> Value {
    let mut v = json!({
        "iupd": p.iupd,
        "type": if p.person { "F" } else { "G" },
        "fiscalCode": p.fiscal_code,
        "fullName": p.full_name,
        "companyName": "Comune di Esempio",
        "officeName": "Ufficio Tributi",
        "switchToExpired": false,
        "paymentOption": p.options.iter().map(|o| json!({
            "iuv": o.iuv,
            "amount": o.cents,
            "description": o.description,
            "isPartialPayment": o.partial,
            "dueDate": o.due,
            "transfer": o.transfers.iter().map(|t| {
                let mut t_json = json!({
                    "idTransfer": t.id.to_string(),
                    "amount": t.cents,
                    "remittanceInformation": o.description,
                    "category": "9/0101108TS/",
                    "iban": t.iban,
                });
                if let Some(org) = t.organization {
                    t_json["organizationFiscalCode"] = json!(org);
                }
                if let Some(postal) = t.postal {
                    t_json["postalIban"] = json!(postal);
                }
                t_json
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    if let Some((street, number, cap, city, province)) = &p.address {
        v["streetName"] = json!(street);
        v["civicNumber"] = json!(number);
        v["postalCode"] = json!(cap);
        v["city"] = json!(city);
        v["province"] = json!(province);
        v["country"] = json!("IT");
    }
    if let Some(email) = &p.email {
        v["email"] = json!(email);
    }
    v
}

fn csv_rows(p: &Position, out: &mut csv::Writer<impl Write>) -> csv::Result<()> {
    let (street, number, cap, city, province, country) = match &p.address {
        Some((s, n, c, city, pr)) => (*s, n.as_str(), *c, *city, *pr, "IT"),
        None => ("", "", "", "", "", ""),
    };
    for o in &p.options {
        for t in &o.transfers {
            let (amount, cents) = (o.cents.to_string(), t.cents.to_string());
            let id = t.id.to_string();
            out.write_record([
                p.iupd.as_str(),
                if p.person { "F" } else { "G" },
                &p.fiscal_code,
                &p.full_name,
                street,
                number,
                cap,
                city,
                province,
                country,
                p.email.as_deref().unwrap_or(""),
                "Comune di Esempio",
                "Ufficio Tributi",
                "false",
                &o.iuv,
                &amount,
                &o.description,
                if o.partial { "true" } else { "false" },
                &o.due,
                &id,
                &cents,
                t.organization.unwrap_or(""),
                &o.description,
                "9/0101108TS/",
                t.iban,
                t.postal.unwrap_or(""),
            ])?;
        }
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).map_err(|e| format!("{path}: {e}"))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    let mut rng = Rng(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut next_iuv = args.first_iuv;
    let (mut options, mut transfers) = (0usize, 0usize);
    let io_err = |e: io::Error| e.to_string();
    if args.csv {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
        for n in 1..=args.count {
            let p = generate(&mut rng, n, &mut next_iuv);
            options += p.options.len();
            transfers += p.options.iter().map(|o| o.transfers.len()).sum::<usize>();
            csv_rows(&p, &mut w).map_err(|e| e.to_string())?;
        }
        w.flush().map_err(io_err)?;
    } else {
        for n in 1..=args.count {
            let p = generate(&mut rng, n, &mut next_iuv);
            options += p.options.len();
            transfers += p.options.iter().map(|o| o.transfers.len()).sum::<usize>();
            serde_json::to_writer(&mut out, &to_json(&p)).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)?;
    let bytes = args
        .out
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    eprintln!(
        "positions={} options={options} transfers={transfers} bytes={bytes}",
        args.count
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_positions: {e}");
            ExitCode::FAILURE
        }
    }
}
