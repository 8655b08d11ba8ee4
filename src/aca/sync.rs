//! `gpd-gateway aca sync`: pages through the creditor's positions in the archive, compares them
//! with the store's, and mends what differs: each such position's mirror is told what the
//! archive holds of it and made due, then mirrored here (create, update or delete) as the
//! worker would; with `dry_run`, only what would be done is counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::aca::mirror::Mirror;
use crate::clock::Clock;
use crate::domain::FiscalCodePA;
use crate::domain::aca::{Archived, ArchivedStatus, plan};
use crate::domain::position::DebtPosition;
use crate::json::convert::parse_datetime;
use crate::platform::aca::{ListedPosition, PositionModel};
use crate::store::copy::Progress;
use crate::store::{PageRequest, PositionQuery, Store};

/// What a sync found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub in_archive: u64,
    pub in_store: u64,
    pub to_create: u64,
    pub to_update: u64,
    pub to_delete: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub failed: u64,
    pub dry_run: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} positions in the archive, {} in the store; to create {}, to update {}, to delete {}",
            self.in_archive, self.in_store, self.to_create, self.to_update, self.to_delete
        )?;
        if self.dry_run {
            f.write_str(" (dry run: nothing sent)")
        } else {
            write!(
                f,
                "; created {}, updated {}, deleted {}, failed {}",
                self.created, self.updated, self.deleted, self.failed
            )
        }
    }
}

/// Store positions read per page.
const STORE_PAGE: u32 = 500;

pub async fn sync(
    mirror: &Mirror,
    store: &dyn Store,
    clock: Clock,
    organization: &FiscalCodePA,
    dry_run: bool,
    progress: &mut Progress,
) -> Result<Summary, String> {
    let client = mirror
        .client(organization)
        .ok_or_else(|| format!("creditor {organization} has no [creditor.aca] configured"))?;
    let mut archive = BTreeMap::new();
    let mut page = 0;
    progress.start("listing", "archive pages", 0);
    loop {
        let listed = client
            .list(page)
            .await
            .map_err(|e| format!("the archive's list, page {page}: {e}"))?;
        let total = listed.page_info.total_pages;
        for p in listed.payment_position_list {
            archive.insert(p.iupd.clone(), p);
        }
        page += 1;
        progress.update("listing", "archive pages", page.into(), total.into());
        if page >= total {
            progress.finish("listing", "archive pages", total.into());
            break;
        }
    }
    let now = clock.now();
    let mut summary = Summary {
        in_archive: archive.len() as u64,
        dry_run,
        ..Summary::default()
    };
    // Every position of the store, compared with the archive's.
    let mut seen = BTreeSet::new();
    let mut marks: Vec<(String, Option<Archived>)> = Vec::new();
    let mut page = 0;
    loop {
        let query = PositionQuery {
            filter: Default::default(),
            order: Default::default(),
            page: PageRequest {
                page,
                limit: STORE_PAGE,
            },
        };
        let listed = store
            .list_positions(organization.clone(), query, now)
            .await
            .map_err(|e| e.to_string())?;
        let total = listed.total_pages();
        for p in &listed.items {
            let iupd = p.iupd.to_string();
            let digest = PositionModel::of(p, now).digest();
            let remote = archive.get(&iupd).and_then(|l| archived_of(l, p, &digest));
            let (steps, _) = plan(remote.as_ref(), Some((p, &digest)), now);
            if !steps.is_empty() {
                if remote.is_none() {
                    summary.to_create += 1;
                } else {
                    summary.to_update += 1;
                }
            }
            seen.insert(iupd.clone());
            marks.push((iupd, remote));
        }
        summary.in_store += listed.items.len() as u64;
        page += 1;
        progress.update(
            "comparing",
            "store positions",
            summary.in_store,
            listed.items_found,
        );
        if u64::from(page) >= total {
            progress.finish("comparing", "store positions", listed.items_found);
            break;
        }
    }
    for (iupd, listed) in &archive {
        if !seen.contains(iupd) {
            summary.to_delete += 1;
            let status = listed
                .status
                .as_deref()
                .and_then(ArchivedStatus::of_platform);
            let remote = Archived {
                status: status.unwrap_or(ArchivedStatus::Published),
                digest: String::new(),
                paid: BTreeSet::new(),
            };
            marks.push((iupd.clone(), Some(remote)));
        }
    }
    if dry_run {
        return Ok(summary);
    }
    let marked = marks.len() as u64;
    for (i, (iupd, remote)) in marks.into_iter().enumerate() {
        store
            .reset_aca_mirror(organization.clone(), iupd, remote)
            .await
            .map_err(|e| e.to_string())?;
        progress.update("marking", "positions", i as u64 + 1, marked);
    }
    progress.finish("marking", "positions", marked);
    let mut mended = 0;
    loop {
        let done = mirror
            .round_with(Some(organization.clone()), |d| {
                mended += 1;
                summary.created += u64::from(d.created);
                summary.updated += u64::from(d.updated);
                summary.deleted += u64::from(d.deleted);
                summary.failed += u64::from(d.failed);
                progress.update("mirroring", "positions", mended, marked);
            })
            .await
            .map_err(|e| e.to_string())?;
        if done.is_empty() {
            break;
        }
    }
    progress.finish("mirroring", "positions", mended);
    Ok(summary)
}

/// What the archive holds of `p`, from its listing: its content counts as the store's (the
/// digest of `p`) when company, notices, amounts and due dates agree.
fn archived_of(listed: &ListedPosition, p: &DebtPosition, digest: &str) -> Option<Archived> {
    let status = ArchivedStatus::of_platform(listed.status.as_deref()?)?;
    let paid = listed
        .payment_option
        .iter()
        .filter(|o| o.status.as_deref().is_some_and(|s| s != "PO_UNPAID"))
        .filter_map(|o| o.nav.clone())
        .collect();
    let theirs: BTreeSet<_> = listed
        .payment_option
        .iter()
        .map(|o| {
            (
                o.iuv.clone().unwrap_or_default(),
                o.amount.unwrap_or_default(),
                o.due_date.as_deref().and_then(parse_datetime),
            )
        })
        .collect();
    let ours: BTreeSet<_> = p
        .options
        .iter()
        .map(|o| (o.iuv.to_string(), o.amount.get(), Some(o.due_date)))
        .collect();
    let same = theirs == ours && listed.company_name.as_deref() == Some(p.company_name.as_str());
    Some(Archived {
        status,
        digest: if same {
            digest.to_owned()
        } else {
            String::new()
        },
        paid,
    })
}
