//! A store's life: what it holds outlives it, and once closed it refuses every call.

use super::positions::sample;
use super::{Subject, org};
use crate::domain::position::Iupd;
use crate::domain::position::tests::at;
use crate::store::{PositionKey, StoreError};

pub async fn survives_reopen_and_refuses_after_close(subject: &Subject) {
    subject.create_position(sample()).await.unwrap();
    subject.ping().await.unwrap();
    subject.close().await.unwrap();
    assert!(matches!(
        subject.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let readiness = subject.readiness(at(2030, 1, 1)).await.unwrap();
    assert!(readiness.writes.is_err() && readiness.schema.is_err());
    let reopened = subject.reopen().await;
    let key = PositionKey::Iupd(Iupd::parse("IUPD-1").unwrap());
    assert!(reopened.get_position(org(), key).await.unwrap().is_some());
    reopened.ping().await.unwrap();
}
