//! How long one payment notice takes to render, and how large the PDF is: two notices (one
//! single option; a single option, three installments and the Poste slips), each rendered
//! `--rounds` times after a warm-up render, on one thread. Prints the median, p99 and maximum
//! render time and the PDF's size, and writes each PDF to `--out` when given.
//!
//! ```sh
//! cargo run --release --example notice_render -- --rounds 300
//! ```
//!
//! Output ends with one machine-readable line per notice: `NOTICE name=… rounds=… median_ms=…
//! p99_ms=… max_ms=… bytes=…`.

use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;
use gpd_gateway::domain::notice::{
    Channels, Notice, NoticeCreditor, NoticeDebtor, Payable, PosteAccount,
};
use gpd_gateway::domain::{Cents, FiscalCodePA, NoticeNumber};
use gpd_gateway::notice::pdf::render;

const USAGE: &str = "usage: notice_render [--rounds N] [--out DIR]";

fn payable(n: u32, cents: i64, month: u32) -> Payable {
    Payable {
        notice_number: NoticeNumber::parse(&format!("30200000000000{n:04}")).expect("a NAV"),
        amount: Cents::new(cents).expect("an amount"),
        due_date: NaiveDate::from_ymd_opt(2027, month, 28).expect("a date"),
    }
}

fn single() -> Notice {
    Notice {
        subject: "Tassa sui rifiuti 2026".into(),
        creditor: NoticeCreditor {
            fiscal_code: FiscalCodePA::parse("99999000013").expect("a fiscal code"),
            name: "Comune di Prova".into(),
            office: Some("Ufficio Tributi".into()),
            info: Some("tributi.comune.example · 06 1234567 · tributi@comune.example".into()),
            cbill: Some("CBI1234".into()),
            channels: Channels {
                web: true,
                app: false,
            },
            physical_channel: None,
            logo: None,
        },
        debtor: NoticeDebtor {
            fiscal_code: Some("RSSMRA80A01H501U".into()),
            full_name: "Mario Rossi".into(),
            address: Some("Via Nazionale 1, 00100 Roma (RM)".into()),
        },
        single: Some(payable(1, 102_099, 1)),
        installments: vec![],
        poste: None,
        second_language: None,
    }
}

fn installments_and_poste() -> Notice {
    let mut n = single();
    n.installments = (1..=3).map(|i| payable(100 + i, 34_033, i)).collect();
    n.poste = Some(PosteAccount {
        account_number: "12345678".into(),
        holder: "Comune di Prova".into(),
        authorisation: "AUT. DB/SSIC/E 12345 DEL 01/01/2020".into(),
    });
    n
}

fn main() -> ExitCode {
    let mut rounds = 300usize;
    let mut out: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--rounds", Some(v)) if v.parse::<usize>().is_ok_and(|r| r > 0) => {
                rounds = v.parse().expect("checked")
            }
            ("--out", Some(v)) => out = Some(v),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    for (name, notice) in [
        ("single", single()),
        ("installments3-poste", installments_and_poste()),
    ] {
        // The first render also loads and parses the fonts.
        let warm = Instant::now();
        let pdf = match render(&notice) {
            Ok(pdf) => pdf,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let first_ms = warm.elapsed().as_secs_f64() * 1000.0;
        if let Some(dir) = &out {
            std::fs::write(format!("{dir}/{name}.pdf"), &pdf).expect("write the PDF");
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let pdf = render(&notice).expect("rendered once already");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(pdf);
        }
        times.sort_by(f64::total_cmp);
        let at =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "NOTICE name={name} rounds={rounds} first_ms={first_ms:.1} median_ms={:.2} p99_ms={:.2} max_ms={:.2} bytes={}",
            at(0.5),
            at(0.99),
            times[times.len() - 1],
            pdf.len()
        );
    }
    ExitCode::SUCCESS
}
