//! API keys: stored by the hash of their secret, found by it, listed, revoked once.

use super::Subject;
use crate::domain::api_key::{
    ApiKey, ApiKeySecret, KeyId, KeyScope, SECRET_BYTES, SegregationScope,
};
use crate::domain::position::tests::at;
use crate::domain::{FiscalCodePA, Text};
use crate::store::{Store, StoreError};

pub fn key(n: u8, scope: KeyScope) -> (ApiKey, ApiKeySecret) {
    let secret = ApiKeySecret::from_random([n; 6], [n; SECRET_BYTES]);
    let key = ApiKey {
        id: secret.id(),
        label: Some(Text::new(format!("key {n}")).unwrap()),
        scope,
        segregation: SegregationScope::All,
        created_at: at(2030, 1, n.into()),
        revoked_at: None,
    };
    (key, secret)
}

pub fn orgs(codes: &[&str]) -> KeyScope {
    KeyScope::only(codes.iter().map(|c| FiscalCodePA::parse(c).unwrap())).unwrap()
}

pub async fn keys_are_found_by_hash_listed_and_revoked(subject: &Subject) {
    let store: &dyn Store = subject.into();
    let (bound, bound_secret) = key(1, orgs(&["88888888888", "77777777777"]));
    let (all, all_secret) = key(2, KeyScope::All);
    let (mut unlabelled, _) = key(3, orgs(&["77777777777"]));
    unlabelled.label = None;
    unlabelled.segregation =
        SegregationScope::only(SegregationScope::parse_list("02,01").unwrap()).unwrap();
    for (k, s) in [(&bound, &bound_secret), (&all, &all_secret)] {
        store.create_api_key(k.clone(), s.hash()).await.unwrap();
    }
    let third = ApiKeySecret::from_random([3; 6], [3; SECRET_BYTES]);
    store
        .create_api_key(unlabelled.clone(), third.hash())
        .await
        .unwrap();

    let found = store.api_key_by_hash(bound_secret.hash()).await.unwrap();
    assert_eq!(found.as_ref(), Some(&bound));
    assert_eq!(
        store.api_key_by_hash(all_secret.hash()).await.unwrap(),
        Some(all.clone())
    );
    let stranger = ApiKeySecret::from_random([9; 6], [9; SECRET_BYTES]);
    assert_eq!(store.api_key_by_hash(stranger.hash()).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys().await.unwrap(),
        vec![bound.clone(), all.clone(), unlabelled.clone()]
    );

    // Neither the id nor the hash may be reused.
    let (same_id, _) = key(1, KeyScope::All);
    assert!(matches!(
        store.create_api_key(same_id, stranger.hash()).await,
        Err(StoreError::Duplicate { .. })
    ));
    let (other, _) = key(4, KeyScope::All);
    assert!(matches!(
        store.create_api_key(other, bound_secret.hash()).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 3);

    let revoked = store
        .revoke_api_key(bound.id.clone(), at(2031, 1, 1))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(2031, 1, 1)));
    assert!(revoked.is_revoked());
    let again = store
        .revoke_api_key(bound.id.clone(), at(2032, 1, 1))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at(2031, 1, 1)));
    assert_eq!(
        store.api_key_by_hash(bound_secret.hash()).await.unwrap(),
        Some(revoked)
    );
    assert_eq!(
        store
            .revoke_api_key(KeyId::parse("000000000000").unwrap(), at(2031, 1, 1))
            .await,
        Err(StoreError::NotFound)
    );
    // Still there after a restart.
    store.close().await.unwrap();
    let reopened = subject.reopen().await;
    assert_eq!(reopened.list_api_keys().await.unwrap().len(), 3);
    assert!(
        reopened
            .api_key_by_hash(all_secret.hash())
            .await
            .unwrap()
            .is_some()
    );
}
