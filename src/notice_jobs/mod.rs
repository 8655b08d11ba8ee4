//! Batches of payment notices: a job names a creditor's positions, by IUPD or by the filters
//! of the positions list (resolved to IUPDs when the job is made, so that what it holds does
//! not drift); [`worker`] makes each notice in the background, on every instance, under a
//! lease, and records what came of it; [`archive`] writes a finished job's result as a zip,
//! piece by piece ([`zip`]). REST (`api::notice_jobs`) and the CLI ([`cli`]) start jobs here.

pub mod archive;
pub mod cli;
pub mod worker;
pub mod zip;

use std::collections::HashSet;

use chrono::NaiveDateTime;
use ring::rand::{SecureRandom, SystemRandom};

use crate::domain::FiscalCodePA;
use crate::domain::api_key::hex;
use crate::domain::position::Iupd;
use crate::store::{
    NewNoticeJob, NoticeJob, PageRequest, PositionFilter, PositionOrder, PositionOrderBy,
    PositionQuery, Store, StoreError,
};

/// Which positions a job makes notices of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These, in this order.
    Iupds(Vec<Iupd>),
    /// Those the positions list shows with this filter, oldest first, as of the job's making.
    Filter(PositionFilter),
}

/// Why a job is not made.
#[derive(Debug)]
pub enum Refused {
    /// The request cannot be a job (the caller's to mend), with why.
    Invalid(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Invalid(why) => f.write_str(why),
            Refused::Store(e) => write!(f, "{e}"),
        }
    }
}

/// A new job's id: 128 random bits, in hex.
pub fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Unavailable("no randomness for a job id".into()))?;
    Ok(hex(&bytes))
}

/// The IUPDs `selection` names, at most `max`, each once.
pub async fn resolve(
    store: &dyn Store,
    organization: &FiscalCodePA,
    selection: Selection,
    max: u32,
    now: NaiveDateTime,
) -> Result<Vec<Iupd>, Refused> {
    let iupds = match selection {
        Selection::Iupds(iupds) => {
            let mut seen = HashSet::new();
            if let Some((i, _)) = iupds
                .iter()
                .enumerate()
                .find(|(_, iupd)| !seen.insert(iupd.as_str()))
            {
                return Err(Refused::Invalid(format!(
                    "iupds[{i}]: the position is listed twice"
                )));
            }
            if iupds.len() > max as usize {
                return Err(Refused::Invalid(format!(
                    "iupds: {} positions; a job takes at most {max}",
                    iupds.len()
                )));
            }
            iupds
        }
        Selection::Filter(filter) => {
            let query = PositionQuery {
                filter,
                order: PositionOrder {
                    by: PositionOrderBy::InsertedDate,
                    descending: false,
                },
                page: PageRequest {
                    page: 0,
                    limit: max + 1,
                },
            };
            let page = store
                .list_positions(organization.clone(), query, now)
                .await?;
            if page.items_found > u64::from(max) {
                return Err(Refused::Invalid(format!(
                    "filter: {} positions match; a job takes at most {max}: narrow the filter",
                    page.items_found
                )));
            }
            page.items.into_iter().map(|p| p.iupd).collect()
        }
    };
    if iupds.is_empty() {
        return Err(Refused::Invalid(
            "the job names no position: nothing to make".into(),
        ));
    }
    Ok(iupds)
}

/// Makes a job of `selection` for the creditor (or finds the one made with the same
/// idempotency key); true when it is new.
pub async fn start(
    store: &dyn Store,
    organization: &FiscalCodePA,
    selection: Selection,
    idempotency_key: Option<String>,
    max: u32,
    now: NaiveDateTime,
) -> Result<(NoticeJob, bool), Refused> {
    let iupds = resolve(store, organization, selection, max, now).await?;
    let job = NewNoticeJob {
        id: new_id()?,
        organization: organization.clone(),
        idempotency_key,
        iupds,
        created_at: now,
    };
    Ok(store.create_notice_job(job).await?)
}

/// The notices' renderer as a job's worker calls it: the notice the single-notice route gives
/// (`crate::notice::position_notice`, for every segregation code: the job's routes need a key
/// for the whole creditor), its refusals as the job's REFUSED notices, a rendering error as a
/// FAILED one; a store that fails leaves the notice for later.
pub fn renderer() -> worker::Render {
    use crate::domain::api_key::SegregationScope;
    use crate::domain::notice_job::NoticeResult;
    use crate::notice::{Refused as NotMade, position_notice};
    std::sync::Arc::new(|ctx, creditor, iupd| {
        Box::pin(async move {
            match position_notice(&ctx, &creditor, &SegregationScope::All, &iupd, None).await {
                Ok(pdf) => Ok(NoticeResult::Made(pdf.bytes)),
                Err(NotMade::Store(e)) => Err(e.to_string()),
                Err(e @ NotMade::Render(_)) => Ok(NoticeResult::Failed(e.to_string())),
                Err(e) => Ok(NoticeResult::Refused(e.to_string())),
            }
        })
    })
}

/// The worker of a running gateway, with the notices' renderer.
pub fn spawn(ctx: std::sync::Arc<crate::context::Context>) -> worker::Workers {
    worker::Worker::new(ctx, renderer()).spawn()
}
