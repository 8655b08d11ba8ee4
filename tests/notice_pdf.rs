//! The payment notice PDF read back as a reader would: each page drawn at 150 dpi, every QR code
//! and Data Matrix decoded and compared with the payload the notice defines, the mandatory
//! texts found by `pdftotext`, the file checked by `qpdf` and the fonts seen embedded.

mod harness;

use std::sync::Arc;

use chrono::NaiveDate;
use gpd_gateway::domain::notice::{
    Channels, ImageFormat, Language, Logo, Notice, NoticeCreditor, NoticeDebtor, Payable,
    PosteAccount,
};
use gpd_gateway::domain::{Cents, FiscalCodePA, NoticeNumber};
use gpd_gateway::notice::pdf::render;
use harness::pdf_tools::{PdfReading, embedded_fonts, read_pdf, words};

fn payable(n: u32, cents: i64, due: (i32, u32, u32)) -> Payable {
    Payable {
        notice_number: NoticeNumber::parse(&format!("30200000000000{n:04}")).unwrap(),
        amount: Cents::new(cents).unwrap(),
        due_date: NaiveDate::from_ymd_opt(due.0, due.1, due.2).unwrap(),
    }
}

fn notice() -> Notice {
    Notice {
        subject: "Tassa sui rifiuti 2026".into(),
        creditor: NoticeCreditor {
            fiscal_code: FiscalCodePA::parse("99999000013").unwrap(),
            name: "Comune di Prova".into(),
            office: Some("Ufficio Tributi".into()),
            info: Some("tributi.comune.example · 06 1234567 · tributi@comune.example".into()),
            cbill: Some("CBI1234".into()),
            channels: Channels {
                web: true,
                app: false,
            },
            physical_channel: Some("Sportello tributi, Via Roma 1".into()),
            logo: None,
        },
        debtor: NoticeDebtor {
            fiscal_code: Some("RSSMRA80A01H501U".into()),
            full_name: "Mario Rossi".into(),
            address: Some("Via Nazionale 1, 00100 Roma (RM)".into()),
        },
        single: Some(payable(1, 102_099, (2026, 12, 31))),
        installments: vec![],
        poste: None,
        second_language: None,
    }
}

fn installments(count: u32) -> Vec<Payable> {
    (0..count)
        .map(|i| payable(100 + i, 34_033 + i as i64, (2027, 1 + i % 12, 28)))
        .collect()
}

fn poste() -> PosteAccount {
    PosteAccount {
        account_number: "12345678".into(),
        holder: "Comune di Prova - Servizio Tesoreria".into(),
        authorisation: "AUT. DB/SSIC/E 12345 DEL 01/01/2020".into(),
    }
}

fn payables(n: &Notice) -> Vec<&Payable> {
    n.single.iter().chain(n.installments.iter()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Renders `n`, reads it back and checks what every notice must show: each QR code and Data
/// Matrix with exactly its payload, the subject, creditor, debtor, amounts, due dates, notice
/// codes and CBILL, the where-to-pay texts, embedded fonts, and the header on every page.
fn render_and_check(name: &str, n: &Notice) -> PdfReading {
    let pdf = render(n).expect("the notice renders");
    // NOTICE_PDF_DIR keeps the rendered notices, to look at them.
    if let Ok(dir) = std::env::var("NOTICE_PDF_DIR") {
        std::fs::write(format!("{dir}/{name}.pdf"), &pdf).expect("write the notice");
    }
    let r = read_pdf(&pdf);
    let expected_qr: Vec<String> = payables(n).iter().map(|p| n.qr_payload(p)).collect();
    assert_eq!(sorted(r.qr_codes.clone()), sorted(expected_qr));
    let expected_dm: Vec<String> = payables(n)
        .iter()
        .filter_map(|p| n.poste_payload(p))
        .collect();
    // A Data Matrix per Poste slip, looked for on the pages that have slips.
    let mut found_dm = Vec::new();
    for page in 1..=r.pages {
        let slips = r.page_text(page).matches("BOLLETTINO POSTALE PA").count();
        found_dm.extend(r.data_matrices(page, slips));
    }
    assert_eq!(sorted(found_dm), sorted(expected_dm));

    let text = &r.text;
    let flat = words(text);
    for must in [
        n.creditor.fiscal_code.as_str(),
        &n.creditor.name,
        &n.debtor.full_name,
        n.debtor.fiscal_code.as_deref().unwrap_or(""),
        n.creditor.cbill.as_deref().unwrap_or(""),
    ] {
        assert!(text.contains(must), "{must:?} missing from:\n{text}");
    }
    assert!(flat.contains(&n.subject), "subject missing from:\n{text}");
    for p in payables(n) {
        let amount = gpd_gateway::notice::pdf::format_amount(p.amount);
        let date = p.due_date.format("%d/%m/%Y").to_string();
        let code = gpd_gateway::notice::pdf::format_notice_code(p.notice_number.as_str());
        for must in [&amount, &date, &code] {
            assert!(
                text.contains(must.as_str()),
                "{must:?} missing from:\n{text}"
            );
        }
        assert_eq!(code.len(), 22);
    }
    if let Some(poste) = &n.poste {
        for must in [
            format!("{:0>12}", poste.account_number).as_str(),
            &poste.holder,
            &poste.authorisation,
            "P1",
        ] {
            assert!(text.contains(must), "{must:?} missing from:\n{text}");
        }
    }

    // Where to pay, read in its own column of the first page.
    let column = words(&r.text_in(1, 105.0, 0.0, 105.0, 200.0));
    let site = format!(
        "oppure sul sito di {}, dal tuo Home Banking, con la tua app di pagamento o con gli altri canali abilitati.",
        n.creditor.name
    );
    let shop = "presso Banche e Sportelli ATM, negli Uffici Postali e Punti Postali, nei Bar, Edicole, Ricevitorie, Supermercati, Tabaccherie e altri Esercenti Convenzionati.";
    for must in [
        "DOVE PAGARE?",
        "vai su pagopa.gov.it",
        "PAGA CON L’APP IO",
        &site,
        shop,
    ] {
        assert!(column.contains(must), "{must:?} missing from:\n{column}");
    }
    if let Some(place) = &n.creditor.physical_channel {
        assert!(column.contains(place.as_str()), "{place:?} missing");
    }
    // The legal disclaimer, in the left column.
    let left = words(&r.text_in(1, 0.0, 0.0, 105.0, 200.0));
    assert!(left.contains("In fase di pagamento, se previsto dall’ente, l’importo potrebbe essere aggiornato automaticamente"), "{left}");

    // The header on every page.
    for page in 1..=r.pages {
        let head = words(&r.text_in(page, 0.0, 0.0, 210.0, 45.0));
        assert!(head.contains("AVVISO DI PAGAMENTO"), "page {page}: {head}");
        assert!(head.contains(&n.subject), "page {page}: {head}");
    }

    let fonts = embedded_fonts(&r);
    for font in [
        "TitilliumWeb-Regular",
        "TitilliumWeb-Bold",
        "RobotoMono-Bold",
    ] {
        assert!(fonts.iter().any(|f| f == font), "{font} not in {fonts:?}");
    }
    r
}

#[test]
fn a_single_option() {
    let n = notice();
    let r = render_and_check("single", &n);
    assert_eq!(r.pages, 1);
    assert!(
        r.text.contains("Rata unica entro il 31/12/2026"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("rate"), "no installment line: {}", r.text);
    // Latin text only: the fallback font is not embedded.
    assert!(!embedded_fonts(&r).iter().any(|f| f.starts_with("DejaVu")));
}

#[test]
fn a_plan_of_three_installments_next_to_a_single_payment() {
    let mut n = notice();
    n.installments = installments(3);
    let r = render_and_check("single-and-3", &n);
    let flat = words(&r.text);
    assert!(
        flat.contains("Puoi pagare per intero o in 3 rate"),
        "{flat}"
    );
    for i in 1..=3 {
        assert!(r.text.contains(&format!("Rata {i}")), "Rata {i}");
    }
}

#[test]
fn a_plan_of_two_installments_only() {
    let mut n = notice();
    n.single = None;
    n.installments = installments(2);
    let r = render_and_check("plan-of-2", &n);
    assert!(words(&r.text).contains("Puoi pagare in 2 rate"));
    assert!(!r.text.contains("Rata unica"));
}

#[test]
fn many_installments_break_onto_pages_with_the_header_repeated() {
    let mut n = notice();
    n.installments = installments(10);
    let r = render_and_check("plan-of-10", &n);
    assert!(r.pages >= 2, "{} pages", r.pages);
    let flat = words(&r.text);
    assert!(flat.contains("Importi e scadenze sono riportati nel dettaglio di ogni singola rata."));
    assert!(flat.contains("Rata 10"));
}

#[test]
fn a_postal_creditor_gets_a_poste_slip_per_payable_block() {
    let mut n = notice();
    n.installments = installments(3);
    n.poste = Some(poste());
    let r = render_and_check("poste", &n);
    assert!(r.pages >= 2);
    assert_eq!(r.text.matches("BOLLETTINO POSTALE PA").count(), 4);
}

#[test]
fn long_texts_wrap_and_stay_whole() {
    let mut n = notice();
    n.subject =
        "Canone unico patrimoniale per l’occupazione di suolo pubblico, anno 2026, rata di saldo"
            .into();
    assert!(n.subject.chars().count() <= 90);
    n.creditor.name = "Consorzio intercomunale per i servizi sociali Alto".into();
    n.creditor.office = Some("Settore entrate patrimoniali e tributi minori, ufficio".into());
    n.creditor.info = Some(
        "www.consorzio-servizi.example · 0471 123456 · entrate@consorzio-servizi.example · lun-ven 9-12"
            .into(),
    );
    n.debtor.full_name =
        "Maria Antonietta Giuseppina Carolina Fitzgerald-Bevilacqua della Rovere".into();
    n.debtor.address = Some(
        "Località Piano delle Fonti Vecchie, strada vicinale del Monte Cavallo 1234/B, interno 7, scala C, 38050 Castelnuovo di Sopra (TN)"
            .into(),
    );
    n.poste = Some(poste());
    let r = render_and_check("long-texts", &n);
    let left = words(&r.text_in(1, 0.0, 0.0, 105.0, 120.0));
    assert!(left.contains(n.creditor.info.as_deref().unwrap()), "{left}");
    assert!(
        left.contains(n.creditor.office.as_deref().unwrap()),
        "{left}"
    );
    let right = words(&r.text_in(1, 105.0, 0.0, 105.0, 120.0));
    assert!(
        right.contains(n.debtor.address.as_deref().unwrap()),
        "{right}"
    );
}

#[test]
fn non_latin_letters_and_a_second_language() {
    let mut n = notice();
    n.subject = "Imposta di soggiorno – Čebelarska ulica, Šmarje, Žalec · Größe äöü ß".into();
    n.creditor.name = "Občina Šmarje – Gemeinde Schöneck".into();
    n.debtor.full_name = "Αλέξανδρος Παπαδόπουλος".into();
    n.debtor.address = Some("ул. Тверская 7, Москва".into());
    n.second_language = Some(Language::De);
    n.installments = installments(2);
    let r = render_and_check("non-latin-de", &n);
    let flat = words(&r.text);
    for must in [
        "Αλέξανδρος Παπαδόπουλος",
        "ул. Тверская 7, Москва",
        "Občina Šmarje – Gemeinde Schöneck",
        "WO BEZAHLEN?",
        "Empfänger",
        "Zahlungsgrund",
        "Einzige Rate Fällig am 31/12/2026",
    ] {
        assert!(flat.contains(must), "{must:?} missing from:\n{}", r.text);
    }
    let column = words(&r.text_in(1, 105.0, 0.0, 105.0, 200.0));
    assert!(column.contains(
        "mit der App IO, auf Občina Šmarje – Gemeinde Schöneck, mittels Home Banking, einer Zahlungsapp oder anderer zugelassener Zahlungsdienstleister."
    ), "{column}");
    assert!(embedded_fonts(&r).iter().any(|f| f == "DejaVuSans"));
}

#[test]
fn every_second_language_prints_its_fixed_texts() {
    for (lang, online, shop) in [
        (
            Language::En,
            "PAY WITH THE IO APP",
            "at banks and ATMs, in post offices, cafés, news stands, betting and tobacco Shops, supermarkets and other affiliated merchants.",
        ),
        (
            Language::Fr,
            "PAIEMENT AVEC L’APPLICATION IO",
            "dans les banques, les guichets automatiques, les bureaux de poste, les points postaux, les bars, les kiosques à journaux, les détaillants, les supermarchés, les bureaux de tabac et les autres opérateurs agréés.",
        ),
        (
            Language::Sl,
            "PLAČAJTE Z APLIKACIJO IO",
            "na bankah in okencih bankomatov, poštnih uradih in poštnih točkah, v barih, kioskih, sprejemnih pisarnah, supermarketih, trafikah in pri drugih pooblaščenih operaterjih.",
        ),
    ] {
        let mut n = notice();
        n.second_language = Some(lang);
        let r = render_and_check(&format!("second-{lang:?}"), &n);
        let column = words(&r.text_in(1, 105.0, 0.0, 105.0, 200.0));
        assert!(
            column.contains(online),
            "{lang:?}: {online:?} missing from {column}"
        );
        assert!(
            column.contains(shop),
            "{lang:?}: {shop:?} missing from {column}"
        );
    }
}

#[test]
fn a_logo_is_drawn_and_a_broken_one_refused() {
    let mut n = notice();
    n.creditor.logo = Some(Logo {
        format: ImageFormat::Png,
        bytes: Arc::from(tiny_png().as_slice()),
    });
    let pdf = render(&n).expect("renders with a logo");
    let r = read_pdf(&pdf);
    assert_eq!(r.qr_codes.len(), 1);
    n.creditor.logo = Some(Logo {
        format: ImageFormat::Png,
        bytes: Arc::from(&b"not a png"[..]),
    });
    let err = render(&n).expect_err("a broken logo is refused");
    assert!(err.to_string().contains("logo"), "{err}");
}

/// A 2×2 PNG, written by hand: signature, IHDR, one IDAT (stored deflate block), IEND.
fn tiny_png() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let raw: Vec<u8> = vec![0, 0, 102, 204, 255, 255, 255, 0, 255, 255, 255, 0, 102, 204];
    let mut z = vec![0x78, 0x01, 1];
    z.extend((raw.len() as u16).to_le_bytes());
    z.extend((!(raw.len() as u16)).to_le_bytes());
    z.extend(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}
