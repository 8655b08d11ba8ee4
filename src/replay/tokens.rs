//! The `{{…}}` tokens a fixture may use so that it can be replayed many times against the same
//! server: run-unique identifiers (IUVs, notice numbers) and times relative to now.
//!
//! | token | becomes |
//! |---|---|
//! | `{{RUN}}` | the run id: 6 digits, the same for every case of one invocation |
//! | `{{IUV:SS:N}}` | an IUV with segregation code SS, IUV base = run id (6) + case number (5) + N (2), valid check digits |
//! | `{{NAV:SS:N}}` | the notice number of the same IUV: `3` + IUV |
//! | `{{NOW+Ks}}` / `{{NOW-Ks}}` | UTC now ± K seconds, `YYYY-MM-DDTHH:MM:SS` |
//! | `{{TODAY+Kd}}` / `{{TODAY-Kd}}` | UTC today ± K days, `YYYY-MM-DD` |

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Duration, NaiveDateTime};

use crate::domain::{Iuv, SegregationCode};

/// Run ids have this many digits.
pub const RUN_DIGITS: usize = 6;
const RUN_LIMIT: u64 = 1_000_000;
/// Case numbers take 5 digits of the IUV base, N the last 2.
const CASE_LIMIT: u64 = 100_000;

/// A run id from the clock: milliseconds, modulo 10^6. Two runs started more than a
/// millisecond apart and less than ~16 minutes apart always differ; runs further apart share
/// an id with a chance of one in a million.
pub fn run_id_from_clock() -> u64 {
    let millis = chrono::Utc::now().timestamp_millis();
    millis.rem_euclid(RUN_LIMIT as i64) as u64
}

/// The last run id handed out in this process, `u64::MAX` before the first.
static LAST_RUN: AtomicU64 = AtomicU64::new(u64::MAX);

/// The id of a new run: the clock's, or the previous run's plus one when the clock has not
/// moved past it, so that runs in one process never share an id however quickly they follow
/// each other.
pub fn next_run_id() -> u64 {
    let mut last = LAST_RUN.load(Ordering::SeqCst);
    loop {
        let id = following_run_id(last, run_id_from_clock());
        match LAST_RUN.compare_exchange(last, id, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return id,
            Err(current) => last = current,
        }
    }
}

/// `clock` when it is ahead of `last` (modulo 10^6, by less than half the cycle), else
/// `last + 1`.
fn following_run_id(last: u64, clock: u64) -> u64 {
    if last == u64::MAX {
        return clock;
    }
    let ahead = (clock + RUN_LIMIT - last) % RUN_LIMIT;
    if ahead > 0 && ahead < RUN_LIMIT / 2 {
        clock
    } else {
        (last + 1) % RUN_LIMIT
    }
}

/// What the tokens of one case expand to.
#[derive(Debug, Clone)]
pub struct Tokens {
    run: u64,
    case: u64,
    now: NaiveDateTime,
    /// Names of tokens known only once the answer is in (a case's `capture`): left as written.
    deferred: Vec<String>,
}

/// A token that cannot be expanded; the caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub token: String,
    pub reason: String,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}: {}", self.token, self.reason)
    }
}

impl Tokens {
    /// `run` < 10^6; `case` (1-based position of the case in this run) < 10^5; `now` is read
    /// once per case so that every time token of a case agrees.
    pub fn new(run: u64, case: u64, now: NaiveDateTime) -> Result<Tokens, String> {
        if run >= RUN_LIMIT {
            return Err(format!("run id {run} has more than {RUN_DIGITS} digits"));
        }
        if case >= CASE_LIMIT {
            return Err(format!("more than {} cases in one run", CASE_LIMIT - 1));
        }
        Ok(Tokens {
            run,
            case,
            now,
            deferred: Vec::new(),
        })
    }

    /// The same tokens, leaving `{{NAME}}` as written for each of `names`.
    pub fn deferring(&self, names: Vec<String>) -> Tokens {
        Tokens {
            deferred: names,
            ..self.clone()
        }
    }

    /// Whether `name` is a token this expands itself (and so cannot be a captured one).
    pub fn is_builtin(name: &str) -> bool {
        name == "RUN"
            || ["IUV:", "NAV:", "NOW", "TODAY"]
                .iter()
                .any(|p| name.starts_with(p))
    }

    pub fn run(&self) -> String {
        format!("{:0width$}", self.run, width = RUN_DIGITS)
    }

    /// The IUV `{{IUV:SS:N}}` stands for.
    pub fn iuv(&self, segregation: SegregationCode, n: u64) -> Iuv {
        let base = (self.run * CASE_LIMIT + self.case) * 100 + n;
        Iuv::from_parts(segregation, base).expect("the base has at most 13 digits")
    }

    /// Replaces every token of `text`, but the deferred ones.
    pub fn expand(&self, text: &str) -> Result<String, TokenError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                let shown: String = rest[start..].chars().take(20).collect();
                return Err(TokenError {
                    token: shown,
                    reason: "'{{' without a closing '}}'".to_owned(),
                });
            };
            let name = &after[..end];
            if self.deferred.iter().any(|d| d == name) {
                out.push_str(&rest[start..start + 2 + end + 2]);
                rest = &after[end + 2..];
                continue;
            }
            let value = self.value(name).map_err(|reason| TokenError {
                token: format!("{{{{{name}}}}}"),
                reason,
            })?;
            out.push_str(&value);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn value(&self, name: &str) -> Result<String, String> {
        if name == "RUN" {
            return Ok(self.run());
        }
        if let Some(args) = name.strip_prefix("IUV:") {
            let (seg, n) = notice_args(args)?;
            return Ok(self.iuv(seg, n).to_string());
        }
        if let Some(args) = name.strip_prefix("NAV:") {
            let (seg, n) = notice_args(args)?;
            return Ok(self.iuv(seg, n).notice_number().to_string());
        }
        if let Some(offset) = name.strip_prefix("NOW") {
            let seconds = signed_offset(offset, 's')?;
            let t = self.now + Duration::seconds(seconds);
            return Ok(t.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        if let Some(offset) = name.strip_prefix("TODAY") {
            let days = signed_offset(offset, 'd')?;
            let d = self.now.date() + Duration::days(days);
            return Ok(d.format("%Y-%m-%d").to_string());
        }
        Err("unknown token (known: RUN, IUV:SS:N, NAV:SS:N, NOW±Ks, TODAY±Kd)".to_owned())
    }
}

/// `SS:N`: a two-digit segregation code and N in 1..=99.
fn notice_args(args: &str) -> Result<(SegregationCode, u64), String> {
    let usage = "expected SS:N, a two-digit segregation code and N from 1 to 99";
    let (seg, n) = args.split_once(':').ok_or(usage)?;
    let seg = SegregationCode::parse(seg).map_err(|_| usage.to_owned())?;
    if n.is_empty() || n.len() > 2 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage.to_owned());
    }
    let n: u64 = n.parse().map_err(|_| usage.to_owned())?;
    if n == 0 {
        return Err(usage.to_owned());
    }
    Ok((seg, n))
}

/// `+K<unit>` or `-K<unit>`, K at most 9 digits.
fn signed_offset(offset: &str, unit: char) -> Result<i64, String> {
    let usage = format!("expected +K{unit} or -K{unit}");
    let (sign, rest) = match offset.chars().next() {
        Some('+') => (1, &offset[1..]),
        Some('-') => (-1, &offset[1..]),
        _ => return Err(usage),
    };
    let digits = rest.strip_suffix(unit).ok_or_else(|| usage.clone())?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage);
    }
    Ok(sign * digits.parse::<i64>().map_err(|_| usage.clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NoticeNumber;
    use chrono::NaiveDate;
    use std::collections::HashSet;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 3, 31)
            .unwrap()
            .and_hms_opt(23, 59, 30)
            .unwrap()
    }

    fn tokens(run: u64, case: u64) -> Tokens {
        Tokens::new(run, case, now()).unwrap()
    }

    #[test]
    fn run_id_is_padded() {
        assert_eq!(
            tokens(42, 1).expand("iupd-{{RUN}}-x").unwrap(),
            "iupd-000042-x"
        );
        assert!(run_id_from_clock() < RUN_LIMIT);
        assert!(Tokens::new(RUN_LIMIT, 1, now()).is_err());
        assert!(Tokens::new(1, CASE_LIMIT, now()).is_err());
    }

    #[test]
    fn runs_in_one_process_get_distinct_ids() {
        let ids: Vec<u64> = (0..50).map(|_| next_run_id()).collect();
        let distinct: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert!(ids.iter().all(|&id| id < RUN_LIMIT));
        assert_eq!(following_run_id(u64::MAX, 5), 5);
        assert_eq!(following_run_id(5, 9), 9);
        assert_eq!(following_run_id(5, 5), 6);
        assert_eq!(
            following_run_id(9, 5),
            10,
            "the clock is behind the ids handed out"
        );
        assert_eq!(following_run_id(999_999, 999_999), 0);
        assert_eq!(following_run_id(999_999, 3), 3, "the clock wrapped around");
    }

    #[test]
    fn iuv_and_nav_have_valid_check_digits() {
        let t = tokens(123456, 7);
        let iuv = t.expand("{{IUV:01:3}}").unwrap();
        assert_eq!(iuv.len(), 17);
        assert_eq!(&iuv[..15], "011234560000703");
        let parsed = Iuv::parse(&iuv).expect("valid check digits");
        assert_eq!(parsed.segregation_code().get(), 1);
        let nav = t.expand("{{NAV:01:3}}").unwrap();
        assert_eq!(nav, format!("3{iuv}"));
        let nav = NoticeNumber::parse(&nav).unwrap();
        assert_eq!(nav.iuv(), Some(parsed));
        assert!(Iuv::parse(&t.expand("{{IUV:47:99}}").unwrap()).is_ok());
    }

    #[test]
    fn identifiers_differ_across_cases_runs_and_n() {
        let mut seen = HashSet::new();
        for run in [0, 1, 999_999] {
            for case in [1, 2, 3, 99_999] {
                for n in [1, 2, 99] {
                    for seg in ["01", "02", "47"] {
                        let t = tokens(run, case);
                        let iuv = t.expand(&format!("{{{{IUV:{seg}:{n}}}}}")).unwrap();
                        assert!(Iuv::parse(&iuv).is_ok());
                        assert!(seen.insert(iuv.clone()), "{iuv} repeated");
                    }
                }
            }
        }
    }

    #[test]
    fn times_relative_to_now() {
        let t = tokens(1, 1);
        assert_eq!(t.expand("{{NOW+0s}}").unwrap(), "2025-03-31T23:59:30");
        assert_eq!(t.expand("{{NOW+45s}}").unwrap(), "2025-04-01T00:00:15");
        assert_eq!(t.expand("{{NOW-3600s}}").unwrap(), "2025-03-31T22:59:30");
        assert_eq!(t.expand("{{TODAY+1d}}").unwrap(), "2025-04-01");
        assert_eq!(t.expand("{{TODAY-31d}}").unwrap(), "2025-02-28");
        assert_eq!(
            t.expand("a {{TODAY+0d}} b {{NOW+1s}} c").unwrap(),
            "a 2025-03-31 b 2025-03-31T23:59:31 c"
        );
    }

    #[test]
    fn bad_tokens_are_errors() {
        let t = tokens(1, 1);
        for bad in [
            "{{FOO}}",
            "{{run}}",
            "{{IUV:1:1}}",
            "{{IUV:01:0}}",
            "{{IUV:01:100}}",
            "{{IUV:01}}",
            "{{NAV:ab:1}}",
            "{{NOW}}",
            "{{NOW+5}}",
            "{{NOW+5d}}",
            "{{TODAY+1s}}",
            "{{NOW+-1s}}",
            "x {{RUN",
        ] {
            let e = t.expand(bad).unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
        }
        let e = t.expand("<a>{{FOO}}</a>").unwrap_err();
        assert_eq!(e.token, "{{FOO}}");
    }

    #[test]
    fn text_without_tokens_is_unchanged() {
        let t = tokens(1, 1);
        let text = "<a b=\"{x}\">} { }</a>";
        assert_eq!(t.expand(text).unwrap(), text);
    }
}
