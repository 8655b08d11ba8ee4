//! Jobs of payment notices: made once per idempotency key, their notices claimed under a
//! lease, recorded once, the job done when none is left; failed jobs are not worked on;
//! finished ones are pruned; concurrent claims never share a notice.

use std::collections::HashSet;

use chrono::Duration;

use super::{Subject, org, other_org};
use crate::domain::notice_job::{JobState, NoticeOutcome, NoticeResult};
use crate::domain::position::Iupd;
use crate::domain::position::tests::at;
use crate::store::{NewNoticeJob, Store};

fn job(id: &str, key: Option<&str>, iupds: &[&str]) -> NewNoticeJob {
    NewNoticeJob {
        id: id.into(),
        organization: org(),
        idempotency_key: key.map(str::to_owned),
        iupds: iupds.iter().map(|i| Iupd::parse(i).unwrap()).collect(),
        created_at: at(2026, 1, 1),
    }
}

pub async fn jobs_are_made_once_per_idempotency_key_and_read_back(store: &dyn Store) {
    let (made, created) = store
        .create_notice_job(job("j1", Some("k1"), &["A", "B", "C"]))
        .await
        .unwrap();
    assert!(created);
    assert_eq!((made.id.as_str(), made.state), ("j1", JobState::Queued));
    assert_eq!((made.counts.total(), made.counts.pending), (3, 3));
    assert_eq!(made.created_at, at(2026, 1, 1));
    assert_eq!((made.started_at, made.finished_at), (None, None));

    // The same key again: the same job, whatever else the request says.
    let (again, created) = store
        .create_notice_job(job("j2", Some("k1"), &["D"]))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, made);
    assert_eq!(store.notice_job(org(), "j2".into()).await.unwrap(), None);

    // Another creditor's key is its own; no key, a new job each time.
    let mut theirs = job("j3", Some("k1"), &["A"]);
    theirs.organization = other_org();
    assert!(store.create_notice_job(theirs).await.unwrap().1);
    assert!(
        store
            .create_notice_job(job("j4", None, &["A"]))
            .await
            .unwrap()
            .1
    );
    assert!(
        store
            .create_notice_job(job("j5", None, &["A"]))
            .await
            .unwrap()
            .1
    );

    assert_eq!(
        store.notice_job(org(), "j1".into()).await.unwrap(),
        Some(made)
    );
    assert_eq!(
        store.notice_job(other_org(), "j1".into()).await.unwrap(),
        None
    );
    assert!(
        store
            .notice_job(other_org(), "j3".into())
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn notices_are_claimed_held_recorded_once_and_the_job_ends(store: &dyn Store) {
    store
        .create_notice_job(job("j1", None, &["A", "B", "C", "D"]))
        .await
        .unwrap();
    let now = at(2026, 1, 2);
    let lease = now + Duration::minutes(5);
    let first = store.claim_notices(now, lease, 2).await.unwrap();
    let taken: Vec<(u32, &str)> = first.iter().map(|c| (c.seq, c.iupd.as_str())).collect();
    assert_eq!(taken, [(1, "A"), (2, "B")], "in list order");
    assert_eq!(first[0].organization, org());
    let running = store.notice_job(org(), "j1".into()).await.unwrap().unwrap();
    assert_eq!(
        (running.state, running.started_at),
        (JobState::Running, Some(now))
    );

    // Held: the next claim gets the others, then nothing until the lease ends.
    let second = store.claim_notices(now, lease, 10).await.unwrap();
    assert_eq!(second.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 4]);
    assert!(
        store
            .claim_notices(now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let pdf = b"%PDF-1.7 one".to_vec();
    store
        .record_notices(
            vec![
                ("j1".into(), 1, NoticeResult::Made(pdf.clone())),
                (
                    "j1".into(),
                    2,
                    NoticeResult::Refused("not payable: PAID".into()),
                ),
            ],
            now,
        )
        .await
        .unwrap();
    // A notice recorded keeps its outcome: a late second record changes nothing.
    store
        .record_notices(
            vec![("j1".into(), 1, NoticeResult::Failed("late".into()))],
            now,
        )
        .await
        .unwrap();
    let partway = store.notice_job(org(), "j1".into()).await.unwrap().unwrap();
    assert_eq!(
        (
            partway.state,
            partway.counts.made,
            partway.counts.refused,
            partway.counts.pending
        ),
        (JobState::Running, 1, 1, 2)
    );

    // The lease of 3 and 4 ends unrecorded: they are taken again.
    let later = lease + Duration::seconds(1);
    let retaken = store
        .claim_notices(later, later + Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(retaken.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 4]);
    store
        .record_notices(
            vec![
                (
                    "j1".into(),
                    3,
                    NoticeResult::Made(b"%PDF-1.7 three".to_vec()),
                ),
                ("j1".into(), 4, NoticeResult::Failed("font missing".into())),
            ],
            later,
        )
        .await
        .unwrap();
    let done = store.notice_job(org(), "j1".into()).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.finished_at, Some(later));
    assert_eq!(
        (done.counts.made, done.counts.refused, done.counts.failed),
        (2, 1, 1)
    );
    assert!(
        store
            .claim_notices(later, later, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let failures = store.notice_job_failures("j1".into()).await.unwrap();
    let listed: Vec<(u32, &str, NoticeOutcome, &str)> = failures
        .iter()
        .map(|f| (f.seq, f.iupd.as_str(), f.outcome, f.reason.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (2, "B", NoticeOutcome::Refused, "not payable: PAID"),
            (4, "D", NoticeOutcome::Failed, "font missing")
        ]
    );
    let made = store.made_notices("j1".into(), 0, 1).await.unwrap();
    assert_eq!(made, [(1, pdf)]);
    let rest = store.made_notices("j1".into(), 1, 10).await.unwrap();
    assert_eq!(rest, [(3, b"%PDF-1.7 three".to_vec())]);
    assert!(
        store
            .made_notices("j1".into(), 3, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn failed_jobs_are_left_alone_and_finished_ones_pruned(store: &dyn Store) {
    store
        .create_notice_job(job("f", None, &["A", "B"]))
        .await
        .unwrap();
    store
        .create_notice_job(job("d", None, &["A"]))
        .await
        .unwrap();
    store
        .create_notice_job(job("q", None, &["A"]))
        .await
        .unwrap();
    let now = at(2026, 1, 2);
    store
        .fail_notice_job("f".into(), "the creditor is not served".into(), now)
        .await
        .unwrap();
    let failed = store.notice_job(org(), "f".into()).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the creditor is not served"));
    assert_eq!(failed.finished_at, Some(now));

    let claimed = store.claim_notices(now, now, 10).await.unwrap();
    let jobs: Vec<&str> = claimed.iter().map(|c| c.job.as_str()).collect();
    assert_eq!(jobs, ["d", "q"], "a failed job's notices are not made");
    store
        .record_notices(vec![("d".into(), 1, NoticeResult::Made(vec![1]))], now)
        .await
        .unwrap();
    // A failed job stays failed; a done one stays done.
    store
        .fail_notice_job("d".into(), "late".into(), now)
        .await
        .unwrap();
    let d = store.notice_job(org(), "d".into()).await.unwrap().unwrap();
    assert_eq!((d.state, d.error), (JobState::Done, None));

    let day_after = now + Duration::days(1);
    assert_eq!(
        store.prune_notice_jobs(now, 10).await.unwrap(),
        0,
        "strictly before"
    );
    assert_eq!(store.prune_notice_jobs(day_after, 1).await.unwrap(), 1);
    assert_eq!(store.prune_notice_jobs(day_after, 10).await.unwrap(), 1);
    assert_eq!(store.prune_notice_jobs(day_after, 10).await.unwrap(), 0);
    assert_eq!(store.notice_job(org(), "f".into()).await.unwrap(), None);
    assert_eq!(store.notice_job(org(), "d".into()).await.unwrap(), None);
    assert!(
        store
            .made_notices("d".into(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store.notice_job(org(), "q".into()).await.unwrap().is_some(),
        "still running"
    );
}

pub async fn concurrent_claims_never_share_a_notice(subject: &Subject) {
    let iupds: Vec<String> = (0..60).map(|i| format!("P{i:03}")).collect();
    let names: Vec<&str> = iupds.iter().map(String::as_str).collect();
    subject
        .create_notice_job(job("j", None, &names))
        .await
        .unwrap();
    let other = subject.reopen().await;
    let now = at(2026, 1, 2);
    let lease = now + Duration::minutes(5);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                subject.shared()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.claim_notices(now, lease, 3).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.seq));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for t in tasks {
        for seq in t.await.unwrap() {
            assert!(seen.insert(seq), "notice {seq} claimed twice");
        }
    }
    assert_eq!(seen.len(), 60);
}
