//! The creditors' broadcast stations in PostgreSQL: listed, created or replaced, deleted. Every
//! instance routes receipts by these rows, so a change by one counts for all at once.

use deadpool_postgres::GenericClient;

use super::positions::bound;
use super::statements::Statements;
use super::{PgStore, db_error};
use crate::domain::broadcast::BroadcastStation;
use crate::domain::{FiscalCodePA, Text};
use crate::store::StoreError;
use crate::store::columns::*;

/// The stations of one creditor, or of all, by creditor and station id; only the enabled ones
/// if `enabled_only`.
pub(super) async fn stations_of(
    client: &impl GenericClient,
    organization: Option<&FiscalCodePA>,
    enabled_only: bool,
) -> Result<Vec<BroadcastStation>, StoreError> {
    let sql = format!(
        "SELECT {STATION_COLUMNS} FROM broadcast_station
         WHERE ($1::text IS NULL OR organization = $1) AND (NOT $2 OR enabled)
         ORDER BY organization, station_id"
    );
    let rows = client
        .rows(
            &sql,
            &[&organization.map(FiscalCodePA::as_str), &enabled_only],
        )
        .await?;
    rows.iter().map(|r| station_at(r, 0)).collect()
}

impl PgStore {
    pub async fn broadcast_stations(
        &self,
        organization: Option<FiscalCodePA>,
    ) -> Result<Vec<BroadcastStation>, StoreError> {
        let client = self.client().await?;
        stations_of(&client, organization.as_ref(), false).await
    }

    /// Creates or replaces a station; true when it was created. Inserted if absent, else
    /// updated: an insert that meets a row another instance is inserting waits for it and then
    /// does nothing, so of two instances creating the same station at once exactly one is told
    /// it created it. A delete in between can leave the update nothing to update: then the
    /// insert is tried again.
    pub async fn put_broadcast_station(
        &self,
        station: BroadcastStation,
    ) -> Result<bool, StoreError> {
        let now = chrono::Utc::now().naive_utc();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let insert = format!(
            "INSERT INTO broadcast_station ({STATION_COLUMNS}, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (organization, station_id) DO NOTHING"
        );
        let update =
            "UPDATE broadcast_station SET broker_id = $3, url = $4, primitive_version = $5,
                timeout_ms = $6, enabled = $7, updated_at = $8
             WHERE organization = $1 AND station_id = $2";
        let mut values = station_values(&station).to_vec();
        values.extend([station.enabled.into(), millis(now).into()]);
        let values = bound(&values);
        let created = loop {
            if tx.exec(&insert, &values).await? == 1 {
                break true;
            }
            if tx.exec(update, &values).await? == 1 {
                break false;
            }
        };
        super::commit(tx).await?;
        Ok(created)
    }

    /// `NotFound` when there is no such station: of two instances deleting it at once, the
    /// second waits for the first's row lock and then finds no row.
    pub async fn delete_broadcast_station(
        &self,
        organization: FiscalCodePA,
        station_id: Text<35>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let deleted = tx
            .exec(
                "DELETE FROM broadcast_station WHERE organization = $1 AND station_id = $2",
                &[&organization.as_str(), &station_id.as_str()],
            )
            .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        super::commit(tx).await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::conformance::broadcast::configured as station;
    use crate::store::postgres::{PgStore, testing};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_station_created_by_two_instances_at_once_is_created_once() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = (
            PgStore::connect(&url, 1).await.unwrap(),
            PgStore::connect(&url, 1).await.unwrap(),
        );
        for n in 0..20 {
            let s = station("88888888888", &format!("S{n}"));
            let (first, second) = tokio::join!(
                a.put_broadcast_station(s.clone()),
                b.put_broadcast_station(s.clone())
            );
            let created = [first.unwrap(), second.unwrap()];
            assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
        }
        assert_eq!(a.broadcast_stations(None).await.unwrap().len(), 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_station_deleted_by_two_instances_at_once_is_deleted_once() {
        let Some(url) = testing::fresh_database().await else {
            return;
        };
        let (a, b) = (
            PgStore::connect(&url, 1).await.unwrap(),
            PgStore::connect(&url, 1).await.unwrap(),
        );
        for n in 0..20 {
            let s = station("88888888888", &format!("S{n}"));
            a.put_broadcast_station(s.clone()).await.unwrap();
            let (first, second) = tokio::join!(
                a.delete_broadcast_station(s.organization.clone(), s.station_id.clone()),
                b.delete_broadcast_station(s.organization.clone(), s.station_id.clone())
            );
            let mut results = [first, second];
            results.sort_by_key(Result::is_err);
            assert_eq!(results, [Ok(()), Err(StoreError::NotFound)]);
        }
        assert!(b.broadcast_stations(None).await.unwrap().is_empty());
    }
}
