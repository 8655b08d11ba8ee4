//! The ACA mirror's rows in PostgreSQL: the trigger of migration 0004 makes them; these read,
//! claim and record them. A claim takes due rows under row locks other claims skip and writes
//! its lease into them, as the delivery outbox does: two instances never hold one position's
//! mirror at once, and the mirrors an instance held when it stopped are due when its lease ends.

use chrono::NaiveDateTime;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::filter::Where;
use super::positions::bound;
use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::FiscalCodePA;
use crate::domain::aca::{Archived, MirrorState};
use crate::store::aca::{
    MIRROR_COLUMNS, MIRROR_LISTING, MirrorColumns, archived_columns, record_statement,
};
use crate::store::columns::millis;
use crate::store::{AcaMirror, MirrorRecord, Page, PageRequest, StoreError};

fn mirror(r: &Row) -> Result<AcaMirror, StoreError> {
    let columns = MirrorColumns {
        organization: r.try_get(0).map_err(db_error)?,
        iupd: r.try_get(1).map_err(db_error)?,
        generation: r.try_get(2).map_err(db_error)?,
        state: r.try_get(3).map_err(db_error)?,
        attempts: r.try_get(4).map_err(db_error)?,
        due_at: r.try_get(5).map_err(db_error)?,
        last_attempt_at: r.try_get(6).map_err(db_error)?,
        last_error: r.try_get(7).map_err(db_error)?,
        archived_status: r.try_get(8).map_err(db_error)?,
        archived_digest: r.try_get(9).map_err(db_error)?,
        archived_paid: r.try_get(10).map_err(db_error)?,
    };
    columns.into_mirror()
}

async fn one(
    client: &impl GenericClient,
    organization: &FiscalCodePA,
    iupd: &str,
    lock: bool,
) -> Result<AcaMirror, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT {MIRROR_COLUMNS} FROM aca_mirror WHERE organization = $1 AND iupd = $2{lock}"
    );
    let row = client
        .opt_row(&sql, &[&organization.as_str(), &iupd])
        .await?
        .ok_or(StoreError::NotFound)?;
    mirror(&row)
}

impl PgStore {
    pub async fn set_aca_creditors(
        &self,
        organizations: Vec<FiscalCodePA>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        tx.exec("DELETE FROM aca_creditor", &[]).await?;
        let names: Vec<&str> = organizations.iter().map(FiscalCodePA::as_str).collect();
        tx.exec(
            "INSERT INTO aca_creditor (organization) SELECT DISTINCT unnest($1::text[])",
            &[&names],
        )
        .await?;
        super::commit(tx).await
    }

    pub async fn claim_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> Result<Vec<AcaMirror>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let sql = format!(
            "WITH due AS (
                    SELECT organization, iupd, due_at, change_seq FROM aca_mirror
                    WHERE state = 'PENDING' AND due_at <= $1 AND lease_until <= $1
                      AND ($2::text IS NULL OR organization = $2)
                    ORDER BY due_at, change_seq LIMIT $3
                    FOR UPDATE SKIP LOCKED
                 )
                 UPDATE aca_mirror m SET lease_until = $4 FROM due
                 WHERE m.organization = due.organization AND m.iupd = due.iupd
                 RETURNING {}",
            MIRROR_COLUMNS
                .split(", ")
                .map(|c| format!("m.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let org = organization.as_ref().map(FiscalCodePA::as_str);
        let rows = tx
            .rows(
                &sql,
                &[&millis(now), &org, &i64::from(limit), &millis(lease_until)],
            )
            .await?;
        let claimed = rows.iter().map(mirror).collect::<Result<Vec<_>, _>>()?;
        super::commit(tx).await?;
        Ok(claimed)
    }

    pub async fn record_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        generation: i64,
        record: MirrorRecord,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let org = organization.as_str();
        if let MirrorRecord::Mirrored { forget: true, .. } = &record {
            let gone = client
                .exec(
                    "DELETE FROM aca_mirror
                     WHERE organization = $1 AND iupd = $2 AND generation = $3",
                    &[&org, &iupd, &generation],
                )
                .await?;
            if gone == 1 {
                return Ok(());
            }
        }
        let (sql, values) = record_statement('$', org, &iupd, generation, &record, now);
        client.exec(&sql, &bound(&values)).await?;
        Ok(())
    }

    pub async fn list_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<MirrorState>,
        page: PageRequest,
    ) -> Result<Page<AcaMirror>, StoreError> {
        let mut filters = Where::default();
        filters
            .equals(
                "organization",
                organization.as_ref().map(FiscalCodePA::as_str),
            )
            .equals("state", state.map(MirrorState::as_str));
        filters.page(self, &MIRROR_LISTING, page, mirror).await
    }

    /// The row is locked while its state is checked and changed, so that a worker's record
    /// made meanwhile comes either before or after.
    pub async fn retry_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
    ) -> Result<AcaMirror, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        one(&tx, &organization, &iupd, true)
            .await?
            .state
            .may_retry()
            .map_err(StoreError::Refused)?;
        tx.exec(
            "UPDATE aca_mirror SET state = 'PENDING', due_at = 0, attempts = 0
             WHERE organization = $1 AND iupd = $2",
            &[&organization.as_str(), &iupd],
        )
        .await?;
        let retried = one(&tx, &organization, &iupd, false).await?;
        super::commit(tx).await?;
        Ok(retried)
    }

    pub async fn reset_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        archived: Option<Archived>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let (status, digest, paid) = archived_columns(&archived);
        client
            .exec(
                "INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state,
                    archived_status, archived_digest, archived_paid)
                 VALUES ($1, $2, 1, nextval('aca_change'), 'PENDING', $3, $4, $5)
                 ON CONFLICT (organization, iupd) DO UPDATE SET
                    generation = aca_mirror.generation + 1, change_seq = excluded.change_seq,
                    state = 'PENDING', due_at = 0, attempts = 0,
                    archived_status = excluded.archived_status,
                    archived_digest = excluded.archived_digest,
                    archived_paid = excluded.archived_paid",
                &[&organization.as_str(), &iupd, &status, &digest, &paid],
            )
            .await?;
        Ok(())
    }
}
