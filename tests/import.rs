//! `gpd-gateway import` end to end: the real binary on a file of good and bad positions, then the
//! store read back through the REST API; also while the gateway runs on the same data directory.

mod harness;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use gpd_gateway::clock::Clock;
use gpd_gateway::config::{Config, EXAMPLE_TOML};
use harness::positions::{iuv, position};
use harness::{TestServer, json};

const ORG: &str = "77777777777";
const BIN: &str = env!("CARGO_BIN_EXE_gpd-gateway");

struct Run {
    code: i32,
    stderr: String,
}

fn import(args: &[&str], stdin: Option<&[u8]>) -> Run {
    import_into(args, &[], stdin)
}

/// [`import`] into the store `store` names ([`harness::store::args`]).
fn import_into(args: &[&str], store: &[String], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .arg("import")
        .args(args)
        .args(store)
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn status_of(server: &TestServer, iupd: &str) -> Option<String> {
    let r = server
        .get(&format!("/organizations/{ORG}/debtpositions/{iupd}"))
        .await;
    match r.status {
        200 => Some(json(&r)["status"].as_str().unwrap().to_owned()),
        404 => None,
        other => panic!("GET {iupd}: HTTP {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_good_rows_are_imported_bad_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("positions.jsonl");
    let lines = [
        position("J-1", &iuv(1, 1), 1000).to_string(),
        position("J-2", &iuv(1, 2), 0).to_string(), // zero amount
        position("J-3", &iuv(9, 3), 1000).to_string(), // segregation code not the creditor's
        String::new(),
        position("J-1", &iuv(1, 5), 1000).to_string(), // IUPD again
        position("J-6", &iuv(1, 6), 1000).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = harness::store::args(data.path()).await;
    let run = import_into(&[path(&file), "--org", ORG], &store, None);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let expected = [
        "imported 2 of 5 positions in ",
        "line 2 (iupd J-2): paymentOption[0].amount: must be at least 1 cent; paymentOption[0].transfer[0].amount: must be at least 1 cent",
        "line 3 (iupd J-3): paymentOption[0].iuv: segregation code 09 is not one of this creditor's (01, 02)",
        "line 5 (iupd J-1): iupd J-1 was imported from line 1 of this file",
    ];
    for e in expected {
        assert!(run.stderr.contains(e), "{e}\n--- in ---\n{}", run.stderr);
    }
    assert!(run.stderr.contains(", 3 rejected\n"), "{}", run.stderr);

    // Read back by a gateway on that directory.
    let server = TestServer::start_on(data, Config::example(), Clock::system()).await;
    assert_eq!(status_of(&server, "J-1").await.as_deref(), Some("DRAFT"));
    assert_eq!(status_of(&server, "J-6").await.as_deref(), Some("DRAFT"));
    let j1 = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/J-1"))
            .await,
    );
    // The first J-1 stands, not the rejected one.
    assert_eq!(j1["paymentOption"][0]["iuv"], iuv(1, 1));
    for gone in ["J-2", "J-3"] {
        assert_eq!(status_of(&server, gone).await, None, "{gone}");
    }
    server.stop().await;
}

const CSV_HEADER: &str = "iupd,type,fiscalCode,fullName,companyName,iuv,amount,description,isPartialPayment,dueDate,transfer.idTransfer,transfer.amount,transfer.organizationFiscalCode,transfer.remittanceInformation,transfer.category,transfer.iban,transfer.postalIban";

#[tokio::test(flavor = "multi_thread")]
async fn csv_published_with_rejects_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("positions.csv");
    let (a1, a2, b, c) = (iuv(1, 11), iuv(1, 12), iuv(2, 13), iuv(1, 14));
    let csv = format!(
        "{CSV_HEADER}
C-1,F,RSSMRA80A01H501U,Mario Rossi,Comune di Esempio,{a1},10000,Rata 1,true,2099-06-30T23:59:59,1,7000,,Rata 1,9/0101108TS/,IT60X0542811101000000123456,IT21Q0760101600000000654321
C-1,,,,,{a1},,,,,2,3000,88888888888,\"Rata 1, quota provincia\",9/0101108TS/,IT02A0301503200000003517230,
C-1,,,,,{a2},5000,Rata 2,true,2099-12-31T23:59:59,1,5000,,Rata 2,9/0101108TS/,IT60X0542811101000000123456,
C-2,G,01234567890,Acme S.p.A.,Comune di Esempio,{b},2500,Unica,false,2099-12-31T23:59:59,1,2500,,Diritti,9/0101108TS/,,
C-3,F,RSSMRA80A01H501U,Mario Rossi,Comune di Esempio,{c},abc,Unica,,2099-12-31T23:59:59,1,100,,Diritti,9/0101108TS/,IT60X0542811101000000123456,
"
    );
    std::fs::write(&file, csv).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let data = tempfile::tempdir().unwrap();
    let store = harness::store::args(data.path()).await;
    let run = import_into(
        &[
            path(&file),
            "--org",
            ORG,
            "--publish",
            "--rejects",
            path(&rejects),
        ],
        &store,
        None,
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("imported 1 of 3 positions")
            && run.stderr.contains(&format!(
                "rejected positions written to {}",
                rejects.display()
            )),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "line,iupd,reason\n\
         5,C-2,paymentOption[0].transfer[0]: needs an iban or a stamp\n\
         6,C-3,\"line 6: amount: must be a whole number of euro cents, like 10000\"\n"
    );

    let server = TestServer::start_on(data, Config::example(), Clock::system()).await;
    let c1 = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/C-1"))
            .await,
    );
    assert_eq!(c1["status"], "VALID");
    let options = c1["paymentOption"].as_array().unwrap();
    assert_eq!(options.len(), 2);
    assert_eq!(options[0]["amount"], 10000);
    assert_eq!(options[0]["isPartialPayment"], true);
    let transfers = options[0]["transfer"].as_array().unwrap();
    assert_eq!(transfers.len(), 2);
    assert_eq!(transfers[0]["postalIban"], "IT21Q0760101600000000654321");
    assert_eq!(transfers[1]["organizationFiscalCode"], "88888888888");
    assert_eq!(
        transfers[1]["remittanceInformation"],
        "Rata 1, quota provincia"
    );
    assert_eq!(options[1]["dueDate"], "2099-12-31T23:59:59");
    // Published: the Node can pay it.
    let nav = options[1]["nav"].as_str().unwrap();
    let verify = server
        .soap(
            Some("paVerifyPaymentNotice"),
            &format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd"><s:Body><n:paVerifyPaymentNoticeReq><idPA>{ORG}</idPA><idBrokerPA>{ORG}</idBrokerPA><idStation>77777777777_01</idStation><qrCode><fiscalCode>{ORG}</fiscalCode><noticeNumber>{nav}</noticeNumber></qrCode></n:paVerifyPaymentNoticeReq></s:Body></s:Envelope>"#
            ),
        )
        .await;
    let body = harness::text(&verify);
    assert!(body.contains("<outcome>OK</outcome>"), "{body}");
    server.stop().await;
}

#[test]
fn standard_input_everything_imported_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!(
        "{}\n{}\n",
        position("S-1", &iuv(1, 21), 100),
        position("S-2", &iuv(1, 22), 200)
    );
    let store = harness::store::block_on(harness::store::args(dir.path()));
    let run = import_into(
        &["-", "--format", "jsonl", "--org", ORG],
        &store,
        Some(input.as_bytes()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("imported 2 of 2 positions in ")
            && run.stderr.ends_with(", 0 rejected\n"),
        "{}",
        run.stderr
    );
    // Without --format, standard input is refused before anything is read.
    let run = import_into(&["-", "--org", ORG], &store, Some(b""));
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("needs --format"), "{}", run.stderr);
    harness::store::block_on(harness::store::drop_database(dir.path()));
}

#[test]
fn the_creditor_must_be_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.jsonl");
    std::fs::write(&file, format!("{}\n", position("K-1", &iuv(5, 1), 100))).unwrap();
    let data = dir.path().join("data");
    let run = import(
        &[path(&file), "--org", "99999999999", "--data", path(&data)],
        None,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("organization 99999999999 is not served by this gateway"),
        "{}",
        run.stderr
    );
    assert!(!data.exists(), "nothing was created for a refused import");

    // Served by the configuration given: imported, with that creditor's segregation codes.
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "{EXAMPLE_TOML}\n[[creditor]]\nfiscal_code = \"99999999999\"\ncompany_name = \"Comune Nuovo\"\nstations = [\"77777777777_01\"]\naux_digit = 3\nsegregation_codes = [\"05\"]\n"
        ),
    )
    .unwrap();
    let run = import(
        &[
            path(&file),
            "--org",
            "99999999999",
            "--data",
            path(&data),
            "--config",
            path(&config),
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A file whose format cannot be told, and a bad batch size, are usage problems.
    let other = dir.path().join("p.txt");
    std::fs::write(&other, "").unwrap();
    let run = import(&[path(&other), "--org", ORG, "--data", path(&data)], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("use --format"), "{}", run.stderr);
    let run = import(&[path(&file), "--org", ORG, "--batch-size", "0"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_while_the_gateway_serves_the_same_directory() {
    let server = TestServer::start().await;
    let data = server.data_dir().to_path_buf();
    let file = data.join("bulk.jsonl");
    const N: u64 = 3000;
    let body: String = (1..=N)
        .map(|n| format!("{}\n", position(&format!("BULK-{n}"), &iuv(1, n), 100)))
        .collect();
    std::fs::write(&file, body).unwrap();
    // Small batches: hundreds of write transactions of the importer interleave with the server's.
    let store = harness::store::args(&data).await;
    let importing = tokio::task::spawn_blocking(move || {
        import_into(
            &[path(&file), "--org", ORG, "--batch-size", "10"],
            &store,
            None,
        )
    });
    // Meanwhile the gateway keeps creating positions of its own, in the other segregation code.
    let (mut created, mut during) = (0, 0);
    while !importing.is_finished() {
        created += 1;
        let r = server
            .post_json(
                &format!("/organizations/{ORG}/debtpositions"),
                &position(&format!("REST-{created}"), &iuv(2, created), 100),
            )
            .await;
        assert_eq!(r.status, 201, "{}", harness::text(&r));
        if !importing.is_finished() {
            during += 1;
        }
    }
    let run = importing.await.unwrap();
    // Writes of both processes took turns: some of the gateway's were answered while the import
    // ran (on SQLite few, as its busy handler polls with growing sleeps), and none failed.
    assert!(during >= 1, "no position created during the import");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with(&format!("imported {N} of {N} positions")),
        "{}",
        run.stderr
    );
    for iupd in [
        "BULK-1",
        "BULK-1500",
        &format!("BULK-{N}"),
        "REST-1",
        &format!("REST-{created}"),
    ] {
        assert_eq!(
            status_of(&server, iupd).await.as_deref(),
            Some("DRAFT"),
            "{iupd}"
        );
    }
    server.stop().await;
}

/// The fenced block of `lang` in the README's "Bulk import" section.
fn readme_example(lang: &str) -> String {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Bulk import").expect("the section")..];
    let start = section.find(&format!("```{lang}\n")).expect("the example") + lang.len() + 4;
    let len = section[start..].find("```").expect("its end");
    section[start..start + len].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_examples_import_as_described() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = harness::store::args(data.path()).await;
    for lang in ["jsonl", "csv"] {
        let file = dir.path().join(format!("example.{lang}"));
        std::fs::write(&file, readme_example(lang)).unwrap();
        let run = import_into(&[path(&file), "--org", ORG, "--publish"], &store, None);
        assert_eq!(run.code, 0, "{lang}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("imported 2 of 2 positions"),
            "{}",
            run.stderr
        );
    }
    let server = TestServer::start_on(data, Config::example(), Clock::system()).await;
    for iupd in ["BULK-1", "BULK-2", "BULK-4"] {
        assert_eq!(
            status_of(&server, iupd).await.as_deref(),
            Some("VALID"),
            "{iupd}"
        );
    }
    let plan = json(
        &server
            .get(&format!("/organizations/{ORG}/debtpositions/BULK-3"))
            .await,
    );
    let options = plan["paymentOption"].as_array().unwrap();
    assert_eq!(options.len(), 2);
    assert_eq!(options[0]["transfer"].as_array().unwrap().len(), 2);
    assert_eq!(
        options[0]["transfer"][1]["remittanceInformation"],
        "TARI 2026 rata 1, quota provinciale"
    );
    assert_eq!(options[1]["amount"], 4000);
    server.stop().await;
}
