//! The pagoPA payment notice ("avviso di pagamento") as a document: what is printed, already
//! chosen and cut to the guidelines' limits, and the exact payloads of its QR codes and of the
//! Poste Data Matrix. Building a `Notice` from a debt position and laying it out on a page are
//! done elsewhere; this module only says what a notice holds.

pub mod build;
pub mod settings;

use chrono::NaiveDate;

use super::{Cents, FiscalCodePA, NoticeNumber};

/// A notice, in the guidelines' order of modules.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The subject (`AVVISO.OGGETTO`), at most 90 characters.
    pub subject: String,
    pub creditor: NoticeCreditor,
    pub debtor: NoticeDebtor,
    /// The single-payment option ("Rata unica"), when there is one.
    pub single: Option<Payable>,
    /// The installments of the plan, in order; empty or at least two.
    pub installments: Vec<Payable>,
    /// The postal account, when the creditor collects through Poste: each payable block then
    /// also gets a postal slip with a Data Matrix.
    pub poste: Option<PosteAccount>,
    /// The second language printed beside Italian, when the creditor configures one.
    pub second_language: Option<Language>,
}

/// The creditor module.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeCreditor {
    pub fiscal_code: FiscalCodePA,
    /// At most 50 characters.
    pub name: String,
    /// The sector or office, at most 50 characters.
    pub office: Option<String>,
    /// The contact line, at most 100 characters, items separated by "·".
    pub info: Option<String>,
    /// The CBILL code printed on every payable block.
    pub cbill: Option<String>,
    /// The creditor's own channels offered in "where to pay".
    pub channels: Channels,
    /// A physical place where the creditor takes payments, at most 50 characters.
    pub physical_channel: Option<String>,
    pub logo: Option<Logo>,
}

/// Whether the creditor offers its own web site and app as payment channels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Channels {
    pub web: bool,
    pub app: bool,
}

/// The creditor's logo, printed at 30×30 mm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub format: ImageFormat,
    pub bytes: std::sync::Arc<[u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

/// The recipient module.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeDebtor {
    /// Omitted when unknown (GPD's `NA`, foreigners).
    pub fiscal_code: Option<String>,
    /// At most 70 characters.
    pub full_name: String,
    /// At most 140 characters.
    pub address: Option<String>,
}

/// One payable block: a QR code, a notice code, an amount and a due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payable {
    pub notice_number: NoticeNumber,
    pub amount: Cents,
    pub due_date: NaiveDate,
}

/// The postal account of the Poste slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosteAccount {
    /// The account number: digits, at most 12 (the last 12 characters of a postal IBAN).
    pub account_number: String,
    /// The account holder, at most 50 characters.
    pub holder: String,
    /// Poste's authorisation, printed as `AUT. …`.
    pub authorisation: String,
}

/// The languages of the guidelines' translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    It,
    De,
    En,
    Fr,
    Sl,
}

impl Language {
    pub fn parse(s: &str) -> Option<Language> {
        Some(match s {
            "it" => Language::It,
            "de" => Language::De,
            "en" => Language::En,
            "fr" => Language::Fr,
            "sl" => Language::Sl,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::It => "it",
            Language::De => "de",
            Language::En => "en",
            Language::Fr => "fr",
            Language::Sl => "sl",
        }
    }
}

impl Notice {
    /// The QR code's payload: `PAGOPA|002|<NAV>|<creditor fiscal code>|<cents>`, cents at
    /// least two digits, as the guidelines ask.
    pub fn qr_payload(&self, payable: &Payable) -> String {
        format!(
            "PAGOPA|002|{}|{}|{:02}",
            payable.notice_number.as_str(),
            self.creditor.fiscal_code.as_str(),
            payable.amount.get()
        )
    }

    /// The Poste Data Matrix's payload, 256 ASCII characters in fixed-width fields; `None`
    /// without a postal account. Over-long fields are cut so that no later field moves.
    pub fn poste_payload(&self, payable: &Payable) -> Option<String> {
        let poste = self.poste.as_ref()?;
        let mut out = String::with_capacity(256);
        out.push_str("codfase=NBPA;");
        out.push_str("18");
        out.push_str(payable.notice_number.as_str());
        out.push_str("12");
        out.push_str(&format!("{:0>12}", last_chars(&poste.account_number, 12)));
        out.push_str("10");
        out.push_str(&format!("{:010}", payable.amount.get()));
        out.push_str("3896");
        out.push_str("1P1");
        out.push_str(&field(self.creditor.fiscal_code.as_str(), 11));
        out.push_str(&field(self.debtor.fiscal_code.as_deref().unwrap_or(""), 16));
        out.push_str(&field(&self.debtor.full_name, 40));
        out.push_str(&field(&self.subject, 110));
        out.push_str(&" ".repeat(12));
        out.push('A');
        debug_assert_eq!(out.len(), 256);
        Some(out)
    }
}

fn last_chars(s: &str, n: usize) -> &str {
    let skip = s.len().saturating_sub(n);
    &s[skip..]
}

/// `s` folded to printable ASCII, cut or space-padded to exactly `width` characters.
fn field(s: &str, width: usize) -> String {
    let mut folded: String = fold_ascii(s).chars().take(width).collect();
    while folded.len() < width {
        folded.push(' ');
    }
    folded
}

/// Letters lose their accents (NFD, marks dropped); any other character outside printable
/// ASCII becomes a space.
fn fold_ascii(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| if (' '..='~').contains(&c) { c } else { ' ' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            subject: "Tassa rifiuti 2026 — saldo".into(),
            creditor: NoticeCreditor {
                fiscal_code: FiscalCodePA::parse("99999000013").unwrap(),
                name: "Comune di Prova".into(),
                office: None,
                info: None,
                cbill: Some("AAAAAAA".into()),
                channels: Channels::default(),
                physical_channel: None,
                logo: None,
            },
            debtor: NoticeDebtor {
                fiscal_code: Some("RSSMRA80A01H501U".into()),
                full_name: "Niccolò Ćosić".into(),
                address: None,
            },
            single: None,
            installments: vec![],
            poste: Some(PosteAccount {
                account_number: "12345678".into(),
                holder: "Comune di Prova".into(),
                authorisation: "AUT. 123".into(),
            }),
            second_language: None,
        }
    }

    fn payable(cents: i64) -> Payable {
        Payable {
            notice_number: NoticeNumber::parse("470000008800999051").unwrap(),
            amount: Cents::new(cents).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        }
    }

    #[test]
    fn qr_payload_is_the_reference_one() {
        assert_eq!(
            notice().qr_payload(&payable(150000)),
            "PAGOPA|002|470000008800999051|99999000013|150000"
        );
        assert_eq!(
            notice().qr_payload(&payable(5)),
            "PAGOPA|002|470000008800999051|99999000013|05"
        );
    }

    #[test]
    fn poste_payload_has_fixed_fields() {
        let p = notice().poste_payload(&payable(150000)).unwrap();
        assert_eq!(p.len(), 256);
        assert_eq!(&p[0..13], "codfase=NBPA;");
        assert_eq!(&p[13..33], "18470000008800999051");
        assert_eq!(&p[33..47], "12000012345678");
        assert_eq!(&p[47..59], "100000150000");
        assert_eq!(&p[59..66], "38961P1");
        assert_eq!(&p[66..77], "99999000013");
        assert_eq!(&p[77..93], "RSSMRA80A01H501U");
        assert_eq!(p[93..133].trim_end(), "Niccolo Cosic");
        assert_eq!(p[133..243].trim_end(), "Tassa rifiuti 2026   saldo");
        assert_eq!(&p[243..256], "            A");
    }

    #[test]
    fn long_fields_are_cut_not_shifted() {
        let mut n = notice();
        n.debtor.full_name = "x".repeat(70);
        n.subject = "y".repeat(200);
        let p = n.poste_payload(&payable(1)).unwrap();
        assert_eq!(p.len(), 256);
        assert_eq!(&p[93..133], "x".repeat(40));
        assert_eq!(&p[133..243], "y".repeat(110));
        assert!(p.ends_with('A'));
    }

    #[test]
    fn no_poste_no_payload() {
        let mut n = notice();
        n.poste = None;
        assert_eq!(n.poste_payload(&payable(1)), None);
    }
}
