//! The [`Store`] trait on PostgreSQL: each method is the one of the area that implements it
//! (positions, receipts, deliveries, keys, stations, uploads, health).

use chrono::NaiveDateTime;

use super::PgStore;
use crate::domain::aca::{Archived, MirrorState};
use crate::domain::api_key::{ApiKey, KeyHash, KeyId};
use crate::domain::broadcast::{BroadcastStation, DeliveryState};
use crate::domain::journal::{JournalEntry, JournalFilter};
use crate::domain::notice_view::NoticeView;
use crate::domain::position::{DebtPosition, Iban, Iupd};
use crate::domain::receipt_digest::ReceiptDigest;
use crate::domain::{FiscalCodePA, NoticeNumber, SegregationCode, Text};
use crate::store::*;

impl Store for PgStore {
    fn create_position(&self, position: DebtPosition) -> StoreFuture<'_, DebtPosition> {
        Box::pin(PgStore::create_position(self, position))
    }

    fn import_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Vec<Result<(), StoreError>>> {
        Box::pin(PgStore::import_positions(self, positions))
    }

    fn create_positions(
        &self,
        positions: Vec<DebtPosition>,
    ) -> StoreFuture<'_, Result<(), Vec<(usize, StoreError)>>> {
        Box::pin(PgStore::create_positions(self, positions))
    }

    fn positions_paying_iban(
        &self,
        organization: FiscalCodePA,
        iban: Iban,
    ) -> StoreFuture<'_, Vec<Iupd>> {
        Box::pin(PgStore::positions_paying_iban(self, organization, iban))
    }

    fn create_with_new_iuv(
        &self,
        organization: FiscalCodePA,
        segregation: SegregationCode,
        build: IuvBuilder,
    ) -> StoreFuture<'_, DebtPosition> {
        Box::pin(PgStore::create_with_new_iuv(
            self,
            organization,
            segregation,
            build,
        ))
    }

    fn count_unpaid_spontaneous(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::count_unpaid_spontaneous(
            self,
            organization,
            now,
            limit,
        ))
    }

    fn get_position(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
    ) -> StoreFuture<'_, Option<DebtPosition>> {
        Box::pin(PgStore::get_position(self, organization, key))
    }

    fn get_notice(
        &self,
        organization: FiscalCodePA,
        nav: NoticeNumber,
    ) -> StoreFuture<'_, Option<NoticeView>> {
        Box::pin(PgStore::get_notice(self, organization, nav))
    }

    fn update_position_if(
        &self,
        organization: FiscalCodePA,
        key: PositionKey,
        expected: Expected,
        change: Mutation,
    ) -> StoreFuture<'_, DebtPosition> {
        Box::pin(PgStore::update_position_if(
            self,
            organization,
            key,
            expected,
            change,
        ))
    }

    fn delete_position(
        &self,
        organization: FiscalCodePA,
        iupd: Iupd,
        expected: Expected,
        guard: Guard,
    ) -> StoreFuture<'_, DebtPosition> {
        Box::pin(PgStore::delete_position(
            self,
            organization,
            iupd,
            expected,
            guard,
        ))
    }

    fn list_positions(
        &self,
        organization: FiscalCodePA,
        query: PositionQuery,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Page<DebtPosition>> {
        Box::pin(PgStore::list_positions(self, organization, query, now))
    }

    fn sweep_statuses(&self, now: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::sweep_statuses(self, now, limit))
    }

    fn erase_positions_past_retention(
        &self,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::erase_positions_past_retention(self, now, limit))
    }

    fn debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
    ) -> StoreFuture<'_, Vec<DebtPosition>> {
        Box::pin(PgStore::debtor_positions(self, organization, debtor))
    }

    fn erase_debtor_positions(
        &self,
        organization: FiscalCodePA,
        debtor: String,
        now: NaiveDateTime,
        rule: ErasureRule,
    ) -> StoreFuture<'_, Vec<(DebtPosition, bool)>> {
        Box::pin(PgStore::erase_debtor_positions(
            self,
            organization,
            debtor,
            now,
            rule,
        ))
    }

    fn subject_receipts(
        &self,
        organization: FiscalCodePA,
        subject: String,
    ) -> StoreFuture<'_, Vec<SubjectReceipt>> {
        Box::pin(PgStore::subject_receipts(self, organization, subject))
    }

    fn erase_receipts_received_before(
        &self,
        before: NaiveDateTime,
        now: NaiveDateTime,
        redact: Redact,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::erase_receipts_received_before(
            self, before, now, redact, limit,
        ))
    }

    fn acquire_receipt(&self, receipt: NewReceipt) -> StoreFuture<'_, Acquisition> {
        Box::pin(PgStore::acquire_receipt(self, receipt))
    }

    fn receipt_document(
        &self,
        organization: FiscalCodePA,
        iuv: String,
    ) -> StoreFuture<'_, Option<Vec<u8>>> {
        Box::pin(PgStore::receipt_document(self, organization, iuv))
    }

    fn receipts_missing_digest(&self, limit: u32) -> StoreFuture<'_, Vec<(i64, Vec<u8>)>> {
        Box::pin(PgStore::receipts_missing_digest(self, limit))
    }

    fn set_receipt_digests(&self, digests: Vec<(i64, ReceiptDigest)>) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::set_receipt_digests(self, digests))
    }

    fn list_receipts(
        &self,
        organization: FiscalCodePA,
        filter: ReceiptFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<ReceiptSummary>> {
        Box::pin(PgStore::list_receipts(self, organization, filter, page))
    }

    fn broadcast_stations(
        &self,
        organization: Option<FiscalCodePA>,
    ) -> StoreFuture<'_, Vec<BroadcastStation>> {
        Box::pin(PgStore::broadcast_stations(self, organization))
    }

    fn put_broadcast_station(&self, station: BroadcastStation) -> StoreFuture<'_, bool> {
        Box::pin(PgStore::put_broadcast_station(self, station))
    }

    fn delete_broadcast_station(
        &self,
        organization: FiscalCodePA,
        station_id: Text<35>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::delete_broadcast_station(
            self,
            organization,
            station_id,
        ))
    }

    fn claim_deliveries(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryTarget>> {
        Box::pin(PgStore::claim_deliveries(self, now, lease_until, limit))
    }

    fn deliveries_missing_request(
        &self,
        after: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryWithoutRequest>> {
        Box::pin(PgStore::deliveries_missing_request(self, after, limit))
    }

    fn set_delivery_requests(
        &self,
        requests: Vec<(i64, Result<Vec<u8>, String>)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::set_delivery_requests(self, requests, now))
    }

    fn end_request_backfill(&self) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::end_request_backfill(self))
    }

    fn record_attempts(
        &self,
        records: Vec<(i64, AttemptRecord)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::record_attempts(self, records, now))
    }

    fn list_deliveries(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<DeliveryState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<Delivery>> {
        Box::pin(PgStore::list_deliveries(self, organization, state, page))
    }

    fn station_backlog(&self) -> StoreFuture<'_, Vec<StationBacklog>> {
        Box::pin(PgStore::station_backlog(self))
    }

    fn redeliver(
        &self,
        organization: Option<FiscalCodePA>,
        delivery: i64,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, Delivery> {
        Box::pin(PgStore::redeliver(self, organization, delivery, now))
    }

    fn create_api_key(&self, key: ApiKey, hash: KeyHash) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::create_api_key(self, key, hash))
    }

    fn api_key_by_hash(&self, hash: KeyHash) -> StoreFuture<'_, Option<ApiKey>> {
        Box::pin(PgStore::api_key_by_hash(self, hash))
    }

    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKey>> {
        Box::pin(PgStore::list_api_keys(self))
    }

    fn revoke_api_key(&self, id: KeyId, now: NaiveDateTime) -> StoreFuture<'_, ApiKey> {
        Box::pin(PgStore::revoke_api_key(self, id, now))
    }

    fn create_upload(&self, upload: NewUpload) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::create_upload(self, upload))
    }

    fn upload(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> StoreFuture<'_, Option<UploadFile>> {
        Box::pin(PgStore::upload(self, organization, id))
    }

    fn uploads_in_progress(&self) -> StoreFuture<'_, Vec<UploadFile>> {
        Box::pin(PgStore::uploads_in_progress(self))
    }

    fn upload_content(&self, id: String) -> StoreFuture<'_, Vec<u8>> {
        Box::pin(PgStore::upload_content(self, id))
    }

    fn apply_upload_items(
        &self,
        id: String,
        first: u32,
        items: Vec<UploadItem>,
        describe: DescribeItem,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::apply_upload_items(
            self, id, first, items, describe, now,
        ))
    }

    fn upload_outcomes(&self, id: String) -> StoreFuture<'_, Vec<UploadOutcome>> {
        Box::pin(PgStore::upload_outcomes(self, id))
    }

    fn list_uploads(&self, query: UploadQuery) -> StoreFuture<'_, Vec<UploadFile>> {
        Box::pin(PgStore::list_uploads(self, query))
    }

    fn append_journal(&self, entries: Vec<JournalEntry>) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::append_journal(self, entries))
    }

    fn list_journal(
        &self,
        organization: FiscalCodePA,
        filter: JournalFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<JournalEntry>> {
        Box::pin(PgStore::list_journal(self, organization, filter, page))
    }

    fn prune_journal(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::prune_journal(self, before, limit))
    }

    fn create_notice_job(
        &self,
        job: crate::store::NewNoticeJob,
    ) -> StoreFuture<'_, (crate::store::NoticeJob, bool)> {
        Box::pin(PgStore::create_notice_job(self, job))
    }

    fn notice_job(
        &self,
        organization: FiscalCodePA,
        id: String,
    ) -> StoreFuture<'_, Option<crate::store::NoticeJob>> {
        Box::pin(PgStore::notice_job(self, organization, id))
    }

    fn notice_job_failures(&self, id: String) -> StoreFuture<'_, Vec<crate::store::NoticeFailure>> {
        Box::pin(PgStore::notice_job_failures(self, id))
    }

    fn claim_notices(
        &self,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<crate::store::ClaimedNotice>> {
        Box::pin(PgStore::claim_notices(self, now, lease_until, limit))
    }

    fn record_notices(
        &self,
        results: Vec<(String, u32, crate::domain::notice_job::NoticeResult)>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::record_notices(self, results, now))
    }

    fn fail_notice_job(
        &self,
        id: String,
        error: String,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::fail_notice_job(self, id, error, now))
    }

    fn made_notices(
        &self,
        id: String,
        after: u32,
        limit: u32,
    ) -> StoreFuture<'_, Vec<(u32, Vec<u8>)>> {
        Box::pin(PgStore::made_notices(self, id, after, limit))
    }

    fn prune_notice_jobs(&self, before: NaiveDateTime, limit: u32) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::prune_notice_jobs(self, before, limit))
    }

    fn lead(&self, job: &'static str) -> StoreFuture<'_, Option<Leadership>> {
        Box::pin(PgStore::lead(self, job))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::ping(self))
    }

    fn readiness(&self, now: NaiveDateTime) -> StoreFuture<'_, Readiness> {
        Box::pin(PgStore::readiness(self, now))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::close(self))
    }

    // SEND notification costs.
    fn mark_send_sync(&self, items: Vec<(FiscalCodePA, NoticeNumber)>) -> StoreFuture<'_, u32> {
        Box::pin(async move { PgStore::mark_send_sync(self, &items).await })
    }

    // Reporting flows (FdR).

    fn reporting_flow_stored(
        &self,
        organization: FiscalCodePA,
        id: crate::domain::reporting::FlowId,
    ) -> StoreFuture<'_, bool> {
        Box::pin(PgStore::reporting_flow_stored(self, organization, id))
    }

    fn record_reporting_flow(
        &self,
        flow: crate::domain::reporting::ReportingFlow,
        reconcile: crate::store::Reconcile,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, crate::store::FlowRecorded> {
        Box::pin(PgStore::record_reporting_flow(self, flow, reconcile, now))
    }

    fn list_reporting_flows(
        &self,
        organization: FiscalCodePA,
        filter: crate::store::FlowFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<crate::store::FlowSummary>> {
        Box::pin(PgStore::list_reporting_flows(
            self,
            organization,
            filter,
            page,
        ))
    }

    fn reporting_flow_payments(
        &self,
        organization: FiscalCodePA,
        id: crate::domain::reporting::FlowId,
        page: PageRequest,
    ) -> StoreFuture<
        '_,
        Option<(
            crate::store::FlowSummary,
            Page<crate::store::FlowPaymentRecord>,
        )>,
    > {
        Box::pin(PgStore::reporting_flow_payments(
            self,
            organization,
            id,
            page,
        ))
    }

    fn list_reporting_anomalies(
        &self,
        organization: FiscalCodePA,
        filter: crate::store::AnomalyFilter,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<crate::store::AnomalyRecord>> {
        Box::pin(PgStore::list_reporting_anomalies(
            self,
            organization,
            filter,
            page,
        ))
    }

    fn flag_unreported_transfers(
        &self,
        paid_before: NaiveDateTime,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::flag_unreported_transfers(
            self,
            paid_before,
            now,
            limit,
        ))
    }

    fn due_receipt_recoveries(
        &self,
        organization: FiscalCodePA,
        now: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<crate::store::DueRecovery>> {
        Box::pin(PgStore::due_receipt_recoveries(
            self,
            organization,
            now,
            limit,
        ))
    }

    fn settle_receipt_recovery(
        &self,
        organization: FiscalCodePA,
        anomaly: i64,
        attempt: crate::store::RecoveryAttempt,
        rematch: Option<crate::store::Rematch>,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::settle_receipt_recovery(
            self,
            organization,
            anomaly,
            attempt,
            rematch,
            now,
        ))
    }

    // The mirror of positions to the central notices archive (ACA).

    fn set_aca_creditors(&self, organizations: Vec<FiscalCodePA>) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::set_aca_creditors(self, organizations))
    }

    fn claim_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AcaMirror>> {
        Box::pin(PgStore::claim_aca_mirrors(
            self,
            organization,
            now,
            lease_until,
            limit,
        ))
    }

    fn record_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        generation: i64,
        record: MirrorRecord,
        now: NaiveDateTime,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::record_aca_mirror(
            self,
            organization,
            iupd,
            generation,
            record,
            now,
        ))
    }

    fn list_aca_mirrors(
        &self,
        organization: Option<FiscalCodePA>,
        state: Option<MirrorState>,
        page: PageRequest,
    ) -> StoreFuture<'_, Page<AcaMirror>> {
        Box::pin(PgStore::list_aca_mirrors(self, organization, state, page))
    }

    fn retry_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
    ) -> StoreFuture<'_, AcaMirror> {
        Box::pin(PgStore::retry_aca_mirror(self, organization, iupd))
    }

    fn reset_aca_mirror(
        &self,
        organization: FiscalCodePA,
        iupd: String,
        archived: Option<Archived>,
    ) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::reset_aca_mirror(
            self,
            organization,
            iupd,
            archived,
        ))
    }
}
