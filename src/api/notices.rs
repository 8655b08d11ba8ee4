//! Payment notices as PDF: `GET …/debtpositions/{iupd}/notice` for every option of the position
//! that can be paid, `GET …/debtpositions/{iupd}/paymentoptions/{nav}/notice` for one of them.
//! The notice is made by `notice::position_notice`; a position that cannot be paid is a 409
//! saying why, a missing one a 404. The file name carries no personal data: the creditor's
//! fiscal code and the first notice number printed.

use super::reply::{Problem, bad_request, conflict, forbidden, not_found};
use super::{OnCreditor, Reply};
use crate::domain::position::Iupd;
use crate::domain::{Iuv, NoticeNumber};
use crate::notice::{self, Refused};

pub const PDF: &str = "application/pdf";

/// `GET /organizations/{fiscalCode}/debtpositions/{iupd}/notice` and, with `nav`,
/// `…/paymentoptions/{nav}/notice`.
pub async fn position_notice(
    on: OnCreditor<'_>,
    iupd: &str,
    nav: Option<&str>,
) -> Result<Reply, Problem> {
    let iupd = Iupd::parse(iupd).map_err(|m| bad_request(format!("iupd: {m}")))?;
    let nav = nav.map(notice_number).transpose()?;
    let made = notice::position_notice(on.ctx, on.creditor, on.segregation, &iupd, nav.as_ref())
        .await
        .map_err(refusal)?;
    Ok(Reply::new(200, PDF, made.bytes).with_header(
        "content-disposition",
        format!("attachment; filename=\"{}\"", made.file_name),
    ))
}

/// A notice number, or an IUV (aux digit 3, the only one the gateway issues), as GPD's
/// option routes take either.
fn notice_number(value: &str) -> Result<NoticeNumber, Problem> {
    NoticeNumber::parse(value)
        .ok()
        .or_else(|| Iuv::parse(value).ok().map(|iuv| iuv.notice_number()))
        .ok_or_else(|| {
            bad_request(format!(
                "nav: '{value}' must be a notice number (18 digits) or an IUV (17 digits)"
            ))
        })
}

fn refusal(r: Refused) -> Problem {
    match r {
        Refused::NotFound(detail) => not_found(detail),
        Refused::Forbidden(detail) => forbidden(detail),
        Refused::Unprintable(why) if why.is_not_found() => not_found(why.to_string()),
        Refused::Unprintable(why) => conflict(why.to_string()),
        Refused::Store(e) => e.into(),
        Refused::Render(e) => {
            tracing::error!(error = %e, "a notice could not be rendered");
            Problem::new(
                500,
                "Internal Server Error",
                format!("the notice could not be rendered: {e}"),
            )
        }
    }
}
