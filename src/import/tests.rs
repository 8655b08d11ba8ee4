use std::io::Cursor;

use super::*;
use crate::domain::position::{Iupd, PositionStatus};
use crate::domain::{Iuv, SegregationCode};
use crate::store::PositionKey;
use crate::store::sqlite::SqliteStore;

const ORG: &str = "77777777777";

fn iuv(base: u64) -> String {
    Iuv::from_parts(SegregationCode::parse("01").unwrap(), base)
        .unwrap()
        .to_string()
}

fn line(iupd: &str, iuv: &str, amount: i64) -> String {
    serde_json::json!({
        "iupd": iupd, "type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "companyName": "Comune di Esempio", "switchToExpired": false,
        "paymentOption": [{
            "iuv": iuv, "amount": amount, "description": "Rata", "isPartialPayment": false,
            "dueDate": "2099-12-31T23:59:59",
            "transfer": [{"idTransfer": "1", "amount": 1000, "remittanceInformation": "TARI",
                          "category": "9/0101108TS/", "iban": "IT60X0542811101000000123456"}]
        }]
    })
    .to_string()
}

fn settings(publish: bool, batch_size: usize) -> Settings {
    Settings {
        creditor: creditor(&Config::example(), ORG).unwrap(),
        publish,
        batch_size,
        clock: Clock::system(),
    }
}

fn source(input: impl Read + Send + 'static, format: Format) -> Source {
    Source::new(Box::new(input), format, 1 << 20).unwrap()
}

async fn status(store: &SqliteStore, iupd: &str) -> Option<PositionStatus> {
    let key = PositionKey::Iupd(Iupd::parse(iupd).unwrap());
    let org = FiscalCodePA::parse(ORG).unwrap();
    store
        .get_position(org, key)
        .await
        .unwrap()
        .map(|p| p.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_rows_are_imported_and_every_bad_one_is_reported_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let text = [
        line("P1", &iuv(1), 1000),
        line("P2", &iuv(2), 900), // amount is not the transfers' sum
        line("P3", &iuv(3), 1000),
        "oops".to_owned(),
        line("P1", &iuv(4), 1000), // IUPD of line 1
        line("P5", &iuv(3), 1000), // IUV of line 3
        line("P6", &iuv(6), 1000),
        String::new(),
        line("P8", &iuv(8), 1000),
    ]
    .join("\n");
    // Batches of 2: duplicates are found within a batch and across batches alike.
    let summary = import(
        source(Cursor::new(text), Format::JsonLines),
        &store,
        settings(false, 2),
        &mut Progress::new(false, None),
    )
    .await;
    assert_eq!(summary.stopped, None);
    assert_eq!(summary.imported, 4);
    let got: Vec<_> = summary
        .rejected
        .iter()
        .map(|r| (r.line, r.iupd.as_deref(), r.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got[0],
        (
            2,
            Some("P2"),
            "paymentOption[0].amount: must equal the sum of its transfers (1000 cents), is 900 cents"
        )
    );
    assert_eq!((got[1].0, got[1].1), (4, None));
    assert!(got[1].2.starts_with("body: "), "{}", got[1].2);
    assert_eq!(
        got[2],
        (
            5,
            Some("P1"),
            "iupd P1 was imported from line 1 of this file"
        )
    );
    assert_eq!(
        got[3],
        (
            6,
            Some("P5"),
            format!("iuv {} was imported from line 3 of this file", iuv(3)).as_str()
        )
    );
    assert_eq!(summary.exit_code(), 3);
    for (iupd, expected) in [
        ("P1", Some(PositionStatus::Draft)),
        ("P2", None),
        ("P3", Some(PositionStatus::Draft)),
        ("P5", None),
        ("P6", Some(PositionStatus::Draft)),
        ("P8", Some(PositionStatus::Draft)),
    ] {
        assert_eq!(status(&store, iupd).await, expected, "{iupd}");
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_when_asked_and_csv_reasons_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let header = "iupd,type,fiscalCode,fullName,companyName,iuv,amount,description,dueDate,transfer.idTransfer,transfer.amount,transfer.remittanceInformation,transfer.category,transfer.iban";
    let row = |iupd: &str, iuv: &str, amount: i64, id: &str, part: i64| {
        format!(
            "{iupd},F,RSSMRA80A01H501U,Mario Rossi,Comune,{iuv},{amount},Rata,2099-12-31T23:59:59,{id},{part},TARI,9/0101108TS/,IT60X0542811101000000123456"
        )
    };
    let text = [
        header.to_owned(),
        row("C1", &iuv(1), 1500, "1", 1000),
        row("C1", &iuv(1), 1500, "2", 500),
        row("C2", &iuv(2), 1500, "1", 1000),
        row("C2", &iuv(2), 1500, "1", 500), // idTransfer repeated
        row("C2", &iuv(3), 800, "1", 800),
    ]
    .join("\n");
    let summary = import(
        source(Cursor::new(text), Format::Csv),
        &store,
        settings(true, 1000),
        &mut Progress::new(false, None),
    )
    .await;
    assert_eq!(summary.imported, 1);
    assert_eq!(
        summary.rejected,
        [Rejection {
            line: 4,
            iupd: Some("C2".into()),
            reason: "paymentOption[0].transfer[1].idTransfer (line 5): duplicate idTransfer 1"
                .into()
        }]
    );
    assert_eq!(status(&store, "C1").await, Some(PositionStatus::Valid));
    store.close().await.unwrap();
}

/// Yields `data`, then fails.
struct Broken(Cursor<Vec<u8>>);

impl Read for Broken {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(io::Error::other("device gone")),
            n => Ok(n),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_input_stops_the_import_and_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let text = format!(
        "{}\n{}\n",
        line("R1", &iuv(1), 1000),
        line("R2", &iuv(2), 1000)
    );
    let summary = import(
        source(Broken(Cursor::new(text.into_bytes())), Format::JsonLines),
        &store,
        settings(false, 1000),
        &mut Progress::new(false, None),
    )
    .await;
    assert_eq!(summary.imported, 2);
    assert_eq!(summary.stopped.as_deref(), Some("line 3: device gone"));
    assert_eq!(summary.exit_code(), 1);
    assert!(status(&store, "R2").await.is_some());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_store_refuses_is_reported_row_by_row_and_stops_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store.close().await.unwrap();
    let text = format!(
        "{}\n{}\n",
        line("S1", &iuv(1), 1000),
        line("S2", &iuv(2), 1000)
    );
    let summary = import(
        source(Cursor::new(text), Format::JsonLines),
        &store,
        settings(false, 1000),
        &mut Progress::new(false, None),
    )
    .await;
    assert_eq!(summary.imported, 0);
    let lines: Vec<_> = summary.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1, 2]);
    assert!(
        summary.rejected[0]
            .reason
            .starts_with("its batch was not committed: store unavailable"),
        "{}",
        summary.rejected[0].reason
    );
    assert_eq!(summary.exit_code(), 1);
}

#[test]
fn reasons_point_at_the_line_of_the_option_or_transfer() {
    let lines = vec![vec![4, 5], vec![6]];
    let errors = [
        FieldError::new("iupd", "must not be empty"),
        FieldError::new("paymentOption[0].amount", "a"),
        FieldError::new("paymentOption[0].transfer[1].iban", "b"),
        FieldError::new("paymentOption[1].transfer[0].amount", "c"),
        FieldError::new("paymentOption[7].amount", "d"),
    ];
    assert_eq!(
        describe(&errors, 4, &lines),
        "iupd: must not be empty; paymentOption[0].amount: a; \
         paymentOption[0].transfer[1].iban (line 5): b; \
         paymentOption[1].transfer[0].amount (line 6): c; paymentOption[7].amount: d"
    );
    // JSON lines have no per-option lines: the API's text exactly.
    assert_eq!(
        describe(&errors[1..2], 4, &[]),
        "paymentOption[0].amount: a"
    );
}

#[test]
fn formats_from_extension_or_name_and_creditors_from_the_configuration() {
    assert_eq!(
        Format::of_path(Path::new("a/b.JSONL")),
        Some(Format::JsonLines)
    );
    assert_eq!(
        Format::of_path(Path::new("b.ndjson")),
        Some(Format::JsonLines)
    );
    assert_eq!(Format::of_path(Path::new("b.csv")), Some(Format::Csv));
    assert_eq!(Format::of_path(Path::new("b.json")), None);
    assert_eq!(Format::of_path(Path::new("csv")), None);
    assert_eq!("csv".parse(), Ok(Format::Csv));
    assert!("xml".parse::<Format>().is_err());
    let config = Config::example();
    assert_eq!(
        creditor(&config, "88888888888")
            .unwrap()
            .fiscal_code
            .as_str(),
        "88888888888"
    );
    assert_eq!(
        creditor(&config, "12345678901").unwrap_err(),
        "organization 12345678901 is not served by this gateway (see --config)"
    );
    assert_eq!(
        creditor(&config, "1234").unwrap_err(),
        "--org must be exactly 11 digits"
    );
}

#[tokio::test]
async fn a_value_taken_before_this_file_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut runs = Vec::new();
    for text in [line("Q1", &iuv(11), 1000), line("Q1", &iuv(12), 1000)] {
        let summary = import(
            source(Cursor::new(text), Format::JsonLines),
            &store,
            settings(false, 10),
            &mut Progress::new(false, None),
        )
        .await;
        runs.push(summary);
    }
    assert_eq!((runs[0].imported, runs[1].imported), (1, 0));
    assert_eq!(
        runs[1].rejected[0].reason,
        "iupd Q1 already exists for this organization"
    );
    store.close().await.unwrap();
}
