//! CSV: one row per transfer. Consecutive rows with the same `iupd` are one position; within it,
//! rows with the same `iuv` are one payment option, its transfers in row order. Columns are
//! named like the JSON fields, a transfer's prefixed `transfer.` (README, "Bulk import"). The
//! rows of a position become the API's `PositionIn`, so validation and messages are the API's.
//!
//! The header is required; unknown or repeated columns refuse the file (a misspelt optional
//! column would otherwise be dropped silently). The delimiter is `,`, or `;` or a tab when the
//! header uses one (spreadsheets in an Italian locale write `;`).

use std::io::BufRead;

use csv::{ByteRecord, StringRecord};

use super::Record;
use crate::json::model::{OptionIn, PositionIn, Stamp, TransferIn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Position,
    Option,
    Transfer,
}

/// Every column: name, level, required in the header.
const COLUMNS: &[(&str, Level, bool)] = &[
    ("iupd", Level::Position, true),
    ("type", Level::Position, true),
    ("fiscalCode", Level::Position, true),
    ("fullName", Level::Position, true),
    ("streetName", Level::Position, false),
    ("civicNumber", Level::Position, false),
    ("postalCode", Level::Position, false),
    ("city", Level::Position, false),
    ("province", Level::Position, false),
    ("region", Level::Position, false),
    ("country", Level::Position, false),
    ("email", Level::Position, false),
    ("phone", Level::Position, false),
    ("companyName", Level::Position, true),
    ("officeName", Level::Position, false),
    ("switchToExpired", Level::Position, false),
    ("payStandIn", Level::Position, false),
    ("validityDate", Level::Position, false),
    ("iuv", Level::Option, true),
    ("nav", Level::Option, false),
    ("amount", Level::Option, true),
    ("description", Level::Option, true),
    ("isPartialPayment", Level::Option, false),
    ("dueDate", Level::Option, true),
    ("retentionDate", Level::Option, false),
    ("transfer.idTransfer", Level::Transfer, true),
    ("transfer.amount", Level::Transfer, true),
    ("transfer.organizationFiscalCode", Level::Transfer, false),
    ("transfer.companyName", Level::Transfer, false),
    ("transfer.remittanceInformation", Level::Transfer, true),
    ("transfer.category", Level::Transfer, true),
    ("transfer.iban", Level::Transfer, false),
    ("transfer.postalIban", Level::Transfer, false),
    ("transfer.stamp.hashDocument", Level::Transfer, false),
    ("transfer.stamp.stampType", Level::Transfer, false),
    ("transfer.stamp.provincialResidence", Level::Transfer, false),
];

fn column(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|(n, ..)| *n == name)
        .expect("a known column")
}

/// Which field of a record holds each known column.
struct Header {
    index: Vec<Option<usize>>,
    width: usize,
}

impl Header {
    fn parse(names: &StringRecord) -> Result<Header, String> {
        let mut index = vec![None; COLUMNS.len()];
        for (i, name) in names.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}').trim();
            let Some(c) = COLUMNS.iter().position(|(n, ..)| *n == name) else {
                let known: Vec<&str> = COLUMNS.iter().map(|(n, ..)| *n).collect();
                return Err(format!(
                    "CSV header: unknown column `{name}`; the columns are {}",
                    known.join(", ")
                ));
            };
            if index[c].replace(i).is_some() {
                return Err(format!("CSV header: column `{name}` appears twice"));
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(&index)
            .filter(|((_, _, required), i)| *required && i.is_none())
            .map(|((n, ..), _)| *n)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "CSV header: required columns missing: {}",
                missing.join(", ")
            ));
        }
        Ok(Header {
            index,
            width: names.len(),
        })
    }
}

/// One data row, with the problem that makes it unusable if any.
struct Row {
    line: u64,
    record: StringRecord,
    problem: Option<String>,
}

pub(super) struct CsvTable<R> {
    reader: csv::Reader<R>,
    header: Header,
    /// Rows of the position being gathered.
    group: Vec<Row>,
    raw: ByteRecord,
    done: bool,
}

impl<R: BufRead> CsvTable<R> {
    pub(super) fn new(mut input: R) -> Result<Self, String> {
        let first = input
            .fill_buf()
            .map_err(|e| format!("cannot read the CSV header: {e}"))?;
        let delimiter = delimiter(first);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(input);
        let names = reader
            .headers()
            .map_err(|e| format!("cannot read the CSV header: {e}"))?
            .clone();
        if names.iter().all(str::is_empty) {
            return Err("the CSV file has no header row".into());
        }
        Ok(CsvTable {
            reader,
            header: Header::parse(&names)?,
            group: Vec::new(),
            raw: ByteRecord::new(),
            done: false,
        })
    }

    fn get<'r>(&self, row: &'r Row, name: &str) -> &'r str {
        self.header.index[column(name)]
            .and_then(|i| row.record.get(i))
            .unwrap_or("")
    }

    /// The next data row; `None` at the end.
    fn next_row(&mut self) -> Option<Result<Row, String>> {
        loop {
            match self.reader.read_byte_record(&mut self.raw) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => return Some(Err(format!("CSV: {e}"))),
            }
            if self.raw.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            let line = self.raw.position().map_or(0, |p| p.line());
            let mut problem = None;
            if self.raw.len() != self.header.width {
                problem = Some(format!(
                    "line {line}: has {} fields, the header {}",
                    self.raw.len(),
                    self.header.width
                ));
            }
            let record = match StringRecord::from_byte_record(self.raw.clone()) {
                Ok(r) => r,
                Err(e) => {
                    problem = Some(format!(
                        "line {line}: field {} is not UTF-8",
                        e.utf8_error().field() + 1
                    ));
                    self.raw
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()
                }
            };
            return Some(Ok(Row {
                line,
                record,
                problem,
            }));
        }
    }

    /// The gathered rows as one position.
    fn finish(&mut self) -> Option<Record> {
        if self.group.is_empty() {
            return None;
        }
        let rows = std::mem::take(&mut self.group);
        let first = &rows[0];
        let iupd = Some(self.get(first, "iupd").to_owned()).filter(|s| !s.is_empty());
        let (input, lines) = match self.position_in(&rows) {
            Ok((p, lines)) => (Ok(p), lines),
            Err(problems) => (Err(problems.join("; ")), Vec::new()),
        };
        Some(Record {
            line: first.line,
            iupd,
            input,
            lines,
        })
    }

    /// Problems of one row's columns of `level` against the first row of its group: each
    /// must be empty or the same.
    fn disagreements(&self, level: Level, first: &Row, row: &Row, problems: &mut Vec<String>) {
        for (name, _, _) in COLUMNS.iter().filter(|(_, l, _)| *l == level) {
            let (a, b) = (self.get(first, name), self.get(row, name));
            if !b.is_empty() && a != b {
                problems.push(format!(
                    "line {}: {name} differs from line {} (the rows of a {} must agree on its columns, or leave them empty)",
                    row.line,
                    first.line,
                    if level == Level::Position { "position" } else { "payment option" },
                ));
            }
        }
    }

    fn position_in(&self, rows: &[Row]) -> Result<(PositionIn, Vec<Vec<u64>>), Vec<String>> {
        let mut problems: Vec<String> = rows.iter().filter_map(|r| r.problem.clone()).collect();
        let first = &rows[0];
        for row in &rows[1..] {
            self.disagreements(Level::Position, first, row, &mut problems);
        }
        // Options in order of first appearance, each with its rows.
        let mut options: Vec<(&str, Vec<&Row>)> = Vec::new();
        for row in rows {
            let iuv = self.get(row, "iuv");
            match options.iter_mut().find(|(i, _)| *i == iuv) {
                Some((_, rows)) => rows.push(row),
                None => options.push((iuv, vec![row])),
            }
        }
        let mut out_options = Vec::new();
        for (_, option_rows) in &options {
            let head = option_rows[0];
            for row in &option_rows[1..] {
                self.disagreements(Level::Option, head, row, &mut problems);
            }
            let transfers = option_rows
                .iter()
                .filter_map(|row| self.transfer(row, &mut problems))
                .collect();
            let amount = cents(head, "amount", self.get(head, "amount"), &mut problems);
            let partial = flag(head, "isPartialPayment", self.get(head, "isPartialPayment"));
            let partial = partial.unwrap_or_else(|e| {
                problems.push(e);
                None
            });
            if let Some(amount) = amount {
                out_options.push(OptionIn {
                    nav: optional(self.get(head, "nav")),
                    iuv: self.get(head, "iuv").to_owned(),
                    amount,
                    description: self.get(head, "description").to_owned(),
                    is_partial_payment: partial.unwrap_or(false),
                    due_date: self.get(head, "dueDate").to_owned(),
                    retention_date: optional(self.get(head, "retentionDate")),
                    transfer: Some(transfers),
                    payment_option_metadata: None,
                    send_sync: None,
                });
            }
        }
        let mut position_flag = |name: &str| {
            flag(first, name, self.get(first, name)).unwrap_or_else(|e| {
                problems.push(e);
                None
            })
        };
        let switch_to_expired = position_flag("switchToExpired");
        let pay_stand_in = position_flag("payStandIn");
        if !problems.is_empty() {
            return Err(problems);
        }
        let text = |name: &str| self.get(first, name).to_owned();
        let opt = |name: &str| optional(self.get(first, name));
        let lines = options
            .iter()
            .map(|(_, rows)| rows.iter().map(|r| r.line).collect())
            .collect();
        Ok((
            PositionIn {
                iupd: text("iupd"),
                debtor_type: text("type"),
                pay_stand_in,
                fiscal_code: text("fiscalCode"),
                full_name: text("fullName"),
                street_name: opt("streetName"),
                civic_number: opt("civicNumber"),
                postal_code: opt("postalCode"),
                city: opt("city"),
                province: opt("province"),
                region: opt("region"),
                country: opt("country"),
                email: opt("email"),
                phone: opt("phone"),
                switch_to_expired: switch_to_expired.unwrap_or(false),
                company_name: text("companyName"),
                office_name: opt("officeName"),
                validity_date: opt("validityDate"),
                payment_option: Some(out_options),
            },
            lines,
        ))
    }

    fn transfer(&self, row: &Row, problems: &mut Vec<String>) -> Option<TransferIn> {
        let get = |name: &str| self.get(row, &format!("transfer.{name}"));
        let amount = cents(row, "transfer.amount", get("amount"), problems)?;
        let stamp = [
            "stamp.hashDocument",
            "stamp.stampType",
            "stamp.provincialResidence",
        ]
        .iter()
        .any(|c| !get(c).is_empty())
        .then(|| Stamp {
            hash_document: get("stamp.hashDocument").to_owned(),
            stamp_type: get("stamp.stampType").to_owned(),
            provincial_residence: get("stamp.provincialResidence").to_owned(),
        });
        Some(TransferIn {
            id_transfer: get("idTransfer").to_owned(),
            amount,
            organization_fiscal_code: optional(get("organizationFiscalCode")),
            company_name: optional(get("companyName")),
            remittance_information: get("remittanceInformation").to_owned(),
            category: get("category").to_owned(),
            iban: optional(get("iban")),
            postal_iban: optional(get("postalIban")),
            stamp,
            transfer_metadata: None,
        })
    }
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn cents(row: &Row, name: &str, value: &str, problems: &mut Vec<String>) -> Option<i64> {
    match value.parse::<i64>() {
        Ok(v) => Some(v),
        Err(_) => {
            problems.push(format!(
                "line {}: {name}: must be a whole number of euro cents, like 10000",
                row.line
            ));
            None
        }
    }
}

/// `true` / `false` in any case; empty means "not given".
fn flag(row: &Row, name: &str, value: &str) -> Result<Option<bool>, String> {
    match value.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(format!("line {}: {name}: must be true or false", row.line)),
    }
}

/// `;` or a tab if the header line has one and no comma, else `,`.
fn delimiter(start: &[u8]) -> u8 {
    let header = start.split(|&b| b == b'\n').next().unwrap_or_default();
    if header.contains(&b',') {
        b','
    } else if header.contains(&b';') {
        b';'
    } else if header.contains(&b'\t') {
        b'\t'
    } else {
        b','
    }
}

impl<R: BufRead> Iterator for CsvTable<R> {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let row = match self.next_row() {
                None => {
                    self.done = true;
                    return self.finish().map(Ok);
                }
                Some(Err(e)) => {
                    // Rows after an unreadable one cannot be trusted to start where they seem.
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(row)) => row,
            };
            let same = self
                .group
                .first()
                .is_some_and(|g| self.get(g, "iupd") == self.get(&row, "iupd"));
            if same {
                self.group.push(row);
                continue;
            }
            let finished = self.finish();
            self.group.push(row);
            if let Some(record) = finished {
                return Some(Ok(record));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "iupd,type,fiscalCode,fullName,companyName,iuv,amount,description,dueDate,transfer.idTransfer,transfer.amount,transfer.remittanceInformation,transfer.category,transfer.iban";

    fn table(text: &str) -> Result<Vec<Record>, String> {
        CsvTable::new(text.as_bytes())?.collect()
    }

    fn row(iupd: &str, iuv: &str, amount: &str, id: &str, transfer: &str) -> String {
        format!(
            "{iupd},F,RSSMRA80A01H501U,Mario Rossi,Comune,{iuv},{amount},Rata,2099-12-31T23:59:59,{id},{transfer},TARI,9/0101108TS/,IT60X0542811101000000123456"
        )
    }

    #[test]
    fn rows_are_grouped_by_iupd_then_iuv() {
        let text = [
            HEADER.to_owned(),
            row("A", "01000000000000144", "1500", "1", "1000"),
            row("A", "01000000000000144", "", "2", "500"),
            row("A", "01000000000000245", "700", "1", "700"),
            row("B", "01000000000000346", "100", "1", "100"),
        ]
        .join("\n");
        let got = table(&text).unwrap();
        assert_eq!(got.len(), 2);
        let a = got[0].input.as_ref().unwrap();
        assert_eq!((got[0].line, got[0].iupd.as_deref()), (2, Some("A")));
        assert_eq!(got[0].lines, [vec![2, 3], vec![4]]);
        let options = a.payment_option.as_ref().unwrap();
        assert_eq!(options.len(), 2);
        assert_eq!(options[0].amount, 1500);
        let transfers = options[0].transfer.as_ref().unwrap();
        assert_eq!(
            transfers
                .iter()
                .map(|t| (t.id_transfer.as_str(), t.amount))
                .collect::<Vec<_>>(),
            [("1", 1000), ("2", 500)]
        );
        assert_eq!(a.full_name, "Mario Rossi");
        assert!(!a.switch_to_expired && a.pay_stand_in.is_none() && a.city.is_none());
        assert_eq!((got[1].line, got[1].iupd.as_deref()), (5, Some("B")));
    }

    #[test]
    fn quoted_fields_semicolons_and_optional_columns() {
        let text = "\u{feff}iupd;type;fiscalCode;fullName;companyName;iuv;amount;description;dueDate;isPartialPayment;switchToExpired;transfer.idTransfer;transfer.amount;transfer.remittanceInformation;transfer.category;transfer.stamp.hashDocument;transfer.stamp.stampType;transfer.stamp.provincialResidence;city\n\
            A;F;X;\"Rossi; Mario\";Comune;01000000000000144;1600;\"Rata\nunica\";2099-12-31T23:59:59;TRUE;true;1;1600;Bollo;9/0101108TS/;abcd;01;RM;\n";
        let got = table(text).unwrap();
        let p = got[0].input.as_ref().unwrap();
        assert_eq!(p.full_name, "Rossi; Mario");
        assert!(p.switch_to_expired);
        let o = &p.payment_option.as_ref().unwrap()[0];
        assert_eq!(o.description, "Rata\nunica");
        assert!(o.is_partial_payment);
        let t = &o.transfer.as_ref().unwrap()[0];
        let stamp = t.stamp.as_ref().unwrap();
        assert_eq!((stamp.stamp_type.as_str(), t.iban.as_deref()), ("01", None));
        assert_eq!(p.city, None);
    }

    #[test]
    fn row_problems_reject_the_whole_position_with_their_lines() {
        let text = [
            HEADER.to_owned(),
            row("A", "01000000000000144", "1500", "1", "1000"),
            row("A", "01000000000000144", "", "2", "5,00"),
            row("B", "01000000000000245", "700", "1", "700"),
            row("B", "01000000000000245", "800", "2", "x"),
            "C,G,Y,Z,Other,01000000000000346,1,R,2099-12-31T23:59:59,1,1,T,C,IT60X0542811101000000123456"
                .to_owned(),
            row("D", "01000000000000447", "1", "1", "1"),
        ]
        .join("\n");
        let got = table(&text).unwrap();
        let reasons: Vec<_> = got
            .iter()
            .map(|r| (r.line, r.input.as_ref().err().cloned()))
            .collect();
        assert_eq!(reasons[0].0, 2);
        let a = reasons[0].1.as_ref().unwrap();
        assert!(a.contains("line 3: has 15 fields, the header 14"), "{a}");
        let b = reasons[1].1.as_ref().unwrap();
        assert!(b.contains("line 5: amount differs from line 4"), "{b}");
        assert!(
            b.contains("line 5: transfer.amount: must be a whole number of euro cents"),
            "{b}"
        );
        // Position columns must agree too: C's row is a position of its own (other iupd) and
        // fine; D is fine.
        assert_eq!(reasons[2], (6, None));
        assert_eq!(reasons[3], (7, None));
        let text = [
            HEADER.to_owned(),
            row("A", "01000000000000144", "1500", "1", "1000"),
            row("A", "01000000000000144", "", "2", "500").replace("Mario Rossi", "Maria Bianchi"),
        ]
        .join("\n");
        let got = table(&text).unwrap();
        let why = got[0].input.as_ref().unwrap_err();
        assert!(
            why.starts_with("line 3: fullName differs from line 2"),
            "{why}"
        );
    }

    #[test]
    fn a_repeated_iupd_further_down_is_another_position() {
        let text = [
            HEADER.to_owned(),
            row("A", "01000000000000144", "1", "1", "1"),
            row("B", "01000000000000245", "1", "1", "1"),
            row("A", "01000000000000346", "1", "1", "1"),
        ]
        .join("\n");
        let got = table(&text).unwrap();
        let iupds: Vec<_> = got.iter().map(|r| r.iupd.as_deref().unwrap()).collect();
        assert_eq!(iupds, ["A", "B", "A"]);
    }

    #[test]
    fn bad_headers_refuse_the_file() {
        let unknown = HEADER.replace("fullName", "fullname");
        let e = table(&unknown).err().unwrap();
        assert!(e.contains("unknown column `fullname`"), "{e}");
        let twice = format!("{HEADER},iupd");
        assert!(
            table(&twice)
                .err()
                .unwrap()
                .contains("`iupd` appears twice")
        );
        let missing = HEADER.replace(",transfer.category", "");
        let e = table(&missing).err().unwrap();
        assert!(e.ends_with("missing: transfer.category"), "{e}");
        assert!(table("").err().unwrap().contains("no header"));
    }

    #[test]
    fn blank_rows_are_skipped_and_invalid_utf8_is_a_row_problem() {
        let mut bytes = format!(
            "{HEADER}\n\n,,,,,,,,,,,,,\n{}\n",
            row("A", "01000000000000144", "1", "1", "1")
        )
        .into_bytes();
        bytes.extend(row("B", "01000000000000245", "1", "1", "1").as_bytes());
        let at = bytes.len() - 5;
        bytes[at] = 0xff;
        let got: Vec<Record> = CsvTable::new(&bytes[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, 4);
        assert!(got[0].input.is_ok());
        let why = got[1].input.as_ref().unwrap_err();
        assert_eq!(why, "line 5: field 14 is not UTF-8");
    }
}
