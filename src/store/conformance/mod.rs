//! The behaviour every [`Store`] must show, written once and run on each backend: a backend's
//! tests call [`suite!`] with a function that gives a fresh store, and get one test per
//! behaviour listed there. What only one backend has (its files, its migrations, races between
//! two connections to one database) is tested beside that backend instead.

use std::any::Any;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use crate::domain::FiscalCodePA;
use crate::store::Store;

pub mod aca;
pub mod api_keys;
pub mod broadcast;
pub mod health;
pub mod journal;
pub mod lifecycle;
pub mod notice_jobs;
pub mod notices;
pub mod personal_data;
pub mod positions;
pub mod receipts;
pub mod reporting;
pub mod send;
pub mod sequence;
pub mod uploads;

type Reopen = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Send + Sync>;

/// A fresh store under test, with what keeps its data alive (SQLite's directory) and a way to
/// open that data again, as a restart or another instance would.
pub struct Subject {
    store: Arc<dyn Store>,
    reopen: Reopen,
    _data: Box<dyn Any + Send + Sync>,
}

impl Subject {
    pub fn new<F>(
        store: Arc<dyn Store>,
        data: impl Any + Send + Sync,
        reopen: impl Fn() -> F + Send + Sync + 'static,
    ) -> Subject
    where
        F: Future<Output = Arc<dyn Store>> + Send + 'static,
    {
        Subject {
            store,
            reopen: Box::new(move || Box::pin(reopen())),
            _data: Box::new(data),
        }
    }

    /// The store, for tasks of their own.
    pub fn shared(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Another store on the same data.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        (self.reopen)().await
    }
}

/// A behaviour takes the store, or the subject when it reopens the store or shares it.
impl<'a> From<&'a Subject> for &'a dyn Store {
    fn from(subject: &'a Subject) -> &'a dyn Store {
        &*subject.store
    }
}

impl Deref for Subject {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

/// The creditor of the fixtures.
pub fn org() -> FiscalCodePA {
    FiscalCodePA::parse("77777777777").unwrap()
}

/// Another creditor.
pub fn other_org() -> FiscalCodePA {
    FiscalCodePA::parse("88888888888").unwrap()
}

/// One test per behaviour, each on a store of its own from `$fresh`: an async function of the
/// calling module giving an `Option<Subject>` (None skips the test, as when no PostgreSQL
/// cluster is given). The tests stand in a module `conformance`, one module per area.
macro_rules! suite {
    ($fresh:ident) => {
        $crate::store::conformance::suite!(@areas $fresh;
            positions:
                round_trip_by_iupd_and_by_notice,
                uniqueness_per_organization,
                update_is_atomic_and_versioned,
                an_update_replaces_the_options_and_a_stale_version_is_refused,
                an_imported_batch_leaves_out_only_its_duplicates,
                positions_are_created_all_or_none,
                positions_paying_an_iban_are_those_with_an_unpaid_option_crediting_it;
            lifecycle:
                effective_status_in_sql_agrees_with_the_domain,
                filters_order_and_pages,
                segregation_codes_keep_positions_whose_every_option_has_one,
                sweep_writes_the_status_without_a_new_version,
                sweep_goes_in_batches,
                delete_checks_version_and_guard;
            sequence:
                issued_iuvs_follow_a_sequence_per_creditor_and_segregation_code,
                issued_iuvs_skip_those_taken_and_survive_a_restart,
                concurrent_requests_never_share_an_iuv,
                unpaid_spontaneous_positions_are_counted_up_to_a_limit;
            receipts:
                applied_once_then_idempotent_then_duplicate_then_conflict,
                installments_paid_keep_every_option_and_its_transfers,
                a_receipt_is_its_creditor_notice_and_id_and_its_content,
                a_receipt_for_an_unknown_notice_is_stored_flagged_and_forwarded,
                concurrent_receipts_for_one_option_apply_exactly_once,
                receipts_are_listed_newest_first_by_each_filter_and_paged,
                a_recovered_receipt_and_the_nodes_copy_of_one_payment_are_one_receipt,
                copies_of_one_receipt_sent_at_once_store_it_once_with_its_deliveries,
                receipts_for_one_notice_sent_at_once_apply_one_and_forward_only_it;
            broadcast:
                stations_are_created_replaced_listed_and_deleted,
                deliveries_are_created_claimed_recorded_and_requeued,
                a_receipt_a_station_cannot_take_is_undeliverable_and_never_requeued,
                results_recorded_together_are_each_stored_before_their_caller_hears,
                the_backlog_counts_pending_deliveries_per_station_with_the_oldest;
            api_keys:
                keys_are_found_by_hash_listed_and_revoked;
            personal_data:
                positions_past_their_retention_lose_their_debtor,
                a_debtor_s_positions_are_found_and_erased_as_the_rule_decides,
                a_subject_s_receipts_are_found_then_erased_after_their_period;
            uploads:
                files_are_kept_read_back_and_listed_in_pages,
                a_chunk_is_applied_once_and_progress_moves_with_it,
                updates_and_deletes_refused_alone_leave_the_rest_applied;
            health:
                survives_reopen_and_refuses_after_close;
            journal:
                entries_are_appended_whole_and_listed_by_each_filter,
                a_batch_of_several_statements_is_stored_whole,
                old_entries_are_pruned_in_batches;
            notice_jobs:
                jobs_are_made_once_per_idempotency_key_and_read_back,
                notices_are_claimed_held_recorded_once_and_the_job_ends,
                failed_jobs_are_left_alone_and_finished_ones_pruned,
                concurrent_claims_never_share_a_notice;
            send:
                options_are_marked_in_bulk_and_the_mark_is_kept;
            notices:
                every_write_of_a_position_leaves_its_lookups_fresh,
                publication_and_the_sweeper_leave_lookups_fresh,
                bulk_and_spontaneous_writes_leave_lookups_fresh;
            reporting:
                a_flow_reports_transfers_and_a_newer_revision_replaces_it,
                transfers_no_flow_reports_are_flagged_once_and_resolved_by_a_flow,
                missing_receipts_recovered_resolve_their_anomalies_and_attempts_are_counted,
                a_flow_reports_its_creditor_s_transfer_in_another_creditor_s_notice;
            aca:
                changes_of_mirrored_creditors_are_recorded_coalesced_and_let_go,
                failures_are_retried_given_up_and_retried_on_demand,
                a_sync_sets_what_the_archive_holds_and_listings_page,
                every_writing_path_records_a_change;
        );
    };
    (@areas $fresh:ident; $($area:ident: $($name:ident),+;)+) => {
        mod conformance {
            $(
                mod $area {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $name() {
                            let Some(subject) = super::super::$fresh().await else {
                                return;
                            };
                            $crate::store::conformance::$area::$name((&subject).into()).await;
                        }
                    )+
                }
            )+
        }
    };
}

pub(crate) use suite;
