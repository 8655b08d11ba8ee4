//! Issuing API keys, for the `keys` command ([`cli`]), `serve --demo` and tests. A new key's
//! id and secret come from the operating system's random generator; the secret is handed back
//! once, and the store keeps only its hash.

pub mod cli;

use chrono::NaiveDateTime;
use ring::rand::{SecureRandom, SystemRandom};

use crate::domain::Text;
use crate::domain::api_key::{
    ApiKey, ApiKeySecret, ID_BYTES, KeyScope, SECRET_BYTES, SegregationScope,
};
use crate::store::{Store, StoreError};

/// Makes a key for every segregation code of its creditors, stores it and returns it with its
/// secret (which nothing keeps).
pub async fn issue(
    store: &dyn Store,
    scope: KeyScope,
    label: Option<Text<70>>,
    now: NaiveDateTime,
) -> Result<(ApiKey, ApiKeySecret), String> {
    issue_limited(store, scope, SegregationScope::All, label, now).await
}

/// [`issue`], for some segregation codes of the creditors only.
pub async fn issue_limited(
    store: &dyn Store,
    scope: KeyScope,
    segregation: SegregationScope,
    label: Option<Text<70>>,
    now: NaiveDateTime,
) -> Result<(ApiKey, ApiKeySecret), String> {
    let random = SystemRandom::new();
    // Two keys with the same 48-bit id are unlikely but possible: draw again.
    for _ in 0..3 {
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        random
            .fill(&mut id)
            .and_then(|()| random.fill(&mut secret))
            .map_err(|_| "the system's random generator failed".to_owned())?;
        let secret = ApiKeySecret::from_random(id, secret);
        let key = ApiKey {
            id: secret.id(),
            label: label.clone(),
            scope: scope.clone(),
            segregation: segregation.clone(),
            created_at: now,
            revoked_at: None,
        };
        match store.create_api_key(key.clone(), secret.hash()).await {
            Ok(()) => return Ok((key, secret)),
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("could not draw an unused key id".into())
}
