//! `gpd-gateway aca list|pending|failed|retry|sync`: the mirror to the central notices archive
//! for operators, read and changed directly in the store (the gateway may be running: its
//! worker picks a retried mirror up at its next round).

use crate::domain::FiscalCodePA;
use crate::domain::aca::MirrorState;
use crate::listing::{table, when};
use crate::store::{AcaMirror, PageRequest, Store};

/// `--state` as written: PENDING, FAILED or DONE, in any case.
pub fn mirror_state(state: Option<&str>) -> Result<Option<MirrorState>, String> {
    state
        .map(|s| {
            MirrorState::parse(&s.to_ascii_uppercase())
                .ok_or_else(|| format!("--state must be PENDING, FAILED or DONE, not '{s}'"))
        })
        .transpose()
}

fn line(m: &AcaMirror) -> String {
    let archived = m.archived.as_ref().map_or("-", |a| a.status.as_str());
    format!(
        "{:<8} {:>3}  {}  {}  {:<9}  {}  {}",
        m.state.as_str(),
        m.attempts,
        m.organization,
        m.iupd,
        archived,
        when(m.due_at.or(m.last_attempt_at)),
        m.last_error.as_deref().unwrap_or("-"),
    )
}

/// The mirrors (latest change first), one per line under a header, and a closing count.
pub async fn list(
    store: &dyn Store,
    organization: Option<FiscalCodePA>,
    state: Option<MirrorState>,
    page: PageRequest,
) -> Result<String, String> {
    let found = store
        .list_aca_mirrors(organization, state, page)
        .await
        .map_err(|e| e.to_string())?;
    let header = "STATE    TRY  CREDITOR  IUPD  ARCHIVED  NEXT-OR-LAST  LAST-ERROR";
    Ok(table(header, &found, line, "mirrored positions"))
}

/// Makes a FAILED mirror due again; returns its new line.
pub async fn retry(
    store: &dyn Store,
    organization: FiscalCodePA,
    iupd: String,
) -> Result<String, String> {
    store
        .retry_aca_mirror(organization, iupd)
        .await
        .map(|m| format!("{}\n", line(&m)))
        .map_err(|e| format!("the position's mirror: {e}"))
}
