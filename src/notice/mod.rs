//! Payment notices ("avvisi pagoPA"): turning a `domain::notice::Notice` into the document the
//! debtor receives.
//!
//! [`position_notice`] makes one from a stored position: it reads the position, checks the
//! caller reaches it, builds the notice (`domain::notice::build`) and renders it; the REST
//! route, the CLI and the batches all go through it.

pub mod pdf;

use std::fmt;

use chrono::NaiveDateTime;

use crate::context::Context;
use crate::domain::NoticeNumber;
use crate::domain::api_key::SegregationScope;
use crate::domain::creditor::Creditor;
use crate::domain::notice::Notice;
use crate::domain::notice::build::{self, Unprintable};
use crate::domain::position::{DebtPosition, Iupd};
use crate::store::{PositionKey, StoreError};

/// A notice made: the PDF and the name to give its file, which carries no personal data (the
/// creditor's fiscal code and the first notice number printed).
#[derive(Debug, Clone)]
pub struct NoticePdf {
    pub bytes: Vec<u8>,
    pub file_name: String,
}

/// Why a notice was not made.
#[derive(Debug)]
pub enum Refused {
    /// No such position of the creditor.
    NotFound(String),
    /// The caller's segregation codes do not reach every option of the position.
    Forbidden(String),
    /// The position (or the option asked for) cannot be paid, or the option does not exist
    /// ([`Unprintable::is_not_found`]), or the creditor has no notice settings.
    Unprintable(Unprintable),
    Store(StoreError),
    Render(pdf::RenderError),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotFound(why) | Refused::Forbidden(why) => f.write_str(why),
            Refused::Unprintable(why) => write!(f, "{why}"),
            Refused::Store(e) => write!(f, "{e}"),
            Refused::Render(e) => write!(f, "the notice could not be rendered: {e}"),
        }
    }
}

/// The notice of the creditor's position `iupd` (of its option `nav` when given) as of the
/// context's clock, for a caller reaching the segregation codes `reach`: what
/// `GET …/debtpositions/{iupd}/notice` answers, and what a batch makes for each position. The
/// PDF is drawn on a blocking thread.
pub async fn position_notice(
    ctx: &Context,
    creditor: &Creditor,
    reach: &SegregationScope,
    iupd: &Iupd,
    nav: Option<&NoticeNumber>,
) -> Result<NoticePdf, Refused> {
    let org = &creditor.fiscal_code;
    let position = ctx
        .store
        .get_position(org.clone(), PositionKey::Iupd(iupd.clone()))
        .await
        .map_err(Refused::Store)?
        .ok_or_else(|| {
            Refused::NotFound(format!("no debt position {iupd} for organization {org}"))
        })?;
    if !reach.allows_position(&position) {
        return Err(Refused::Forbidden(format!(
            "the API key acts for segregation codes {reach} of organization {org} only; \
             debt position {iupd} has payment options of another"
        )));
    }
    let notice = notice_of(&position, creditor, nav, ctx.clock.now())?;
    tokio::task::spawn_blocking(move || rendered(&notice))
        .await
        .expect("the renderer does not panic")
}

/// The notice of a position already read, made and rendered on the calling thread.
pub fn position_notice_of(
    position: &DebtPosition,
    creditor: &Creditor,
    nav: Option<&NoticeNumber>,
    now: NaiveDateTime,
) -> Result<NoticePdf, Refused> {
    rendered(&notice_of(position, creditor, nav, now)?)
}

fn notice_of(
    position: &DebtPosition,
    creditor: &Creditor,
    nav: Option<&NoticeNumber>,
    now: NaiveDateTime,
) -> Result<Notice, Refused> {
    build::build(position, creditor, nav, now).map_err(Refused::Unprintable)
}

fn rendered(notice: &Notice) -> Result<NoticePdf, Refused> {
    let bytes = pdf::render(notice).map_err(Refused::Render)?;
    Ok(NoticePdf {
        bytes,
        file_name: file_name(notice),
    })
}

/// `avviso-<creditor>-<first notice number printed>.pdf`.
pub fn file_name(notice: &Notice) -> String {
    let first = notice
        .single
        .iter()
        .chain(&notice.installments)
        .next()
        .map_or("", |p| p.notice_number.as_str());
    format!("avviso-{}-{first}.pdf", notice.creditor.fiscal_code)
}
