//! What the operators' list commands print: a page of the store's items as a header, one line
//! each and a closing count with the page (`deliveries list`, `aca list`), and times as their
//! lines and `keys list`'s show them.

use std::fmt::Write as _;

use chrono::NaiveDateTime;

use crate::store::Page;

/// A time in a line: to the second, `-` when there is none.
pub fn when(t: Option<NaiveDateTime>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%dT%H:%M:%S").to_string(),
    )
}

/// `header`, `line` of each item, then how many of how many `what` and which page.
pub fn table<T>(header: &str, found: &Page<T>, line: impl Fn(&T) -> String, what: &str) -> String {
    let mut out = format!("{header}\n");
    for item in &found.items {
        writeln!(out, "{}", line(item)).expect("writing to a String");
    }
    writeln!(
        out,
        "{} of {} {what} (page {} of {})",
        found.items.len(),
        found.items_found,
        found.request.page + 1,
        found.total_pages().max(1)
    )
    .expect("writing to a String");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PageRequest;

    #[test]
    fn a_page_under_its_header_then_the_count() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(9, 5, 0)
            .unwrap();
        assert_eq!(when(Some(t)), "2026-03-01T09:05:00");
        assert_eq!(when(None), "-");
        let found = Page {
            items: vec![1, 2],
            request: PageRequest { page: 1, limit: 2 },
            items_found: 5,
        };
        let out = table("N", &found, |n| format!("#{n}"), "numbers");
        assert_eq!(out, "N\n#1\n#2\n2 of 5 numbers (page 2 of 3)\n");
        let none = Page::<i32> {
            items: vec![],
            request: PageRequest { page: 0, limit: 2 },
            items_found: 0,
        };
        assert_eq!(
            table("N", &none, |n| n.to_string(), "x"),
            "N\n0 of 0 x (page 1 of 1)\n"
        );
    }
}
