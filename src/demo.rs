//! `serve --demo`: a few example positions for the configured example creditors, created
//! through the same validation as the REST API, so that the README's examples work at once.
//! Seeding again finds them there and leaves them alone. Also an API key for those examples,
//! made anew at every start (see [`api_key`]).

use chrono::Duration;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::domain::Text;
use crate::domain::api_key::{ApiKey, ApiKeySecret, KeyScope};
use crate::json::convert;
use crate::json::model::PositionIn;
use crate::store::StoreError;

pub const ORGANIZATION: &str = "77777777777";

/// The example positions (`demo/positions.json`): what they share, written into each, then
/// each one, due a year from the start.
const POSITIONS: &str = include_str!("demo/positions.json");

#[derive(Deserialize)]
struct Examples {
    common: Map<String, Value>,
    examples: Vec<Example>,
}

#[derive(Deserialize)]
struct Example {
    publish: bool,
    position: Map<String, Value>,
}

/// Each example as the REST API would receive it, and whether to publish it.
fn examples(due: &str) -> Result<Vec<(bool, PositionIn)>, String> {
    let Examples { common, examples } =
        serde_json::from_str(POSITIONS).map_err(|e| format!("demo positions: {e}"))?;
    examples
        .into_iter()
        .map(
            |Example {
                 publish,
                 mut position,
             }| {
                position.extend(common.clone());
                if let Some(Value::Array(options)) = position.get_mut("paymentOption") {
                    for option in options {
                        option["dueDate"] = Value::from(due);
                    }
                }
                serde_json::from_value(Value::Object(position))
                    .map(|input| (publish, input))
                    .map_err(|e| format!("demo position: {e}"))
            },
        )
        .collect()
}

/// Creates the example positions that are not there yet; returns one line per position.
pub async fn seed(ctx: &Context) -> Result<Vec<String>, String> {
    let creditor = ctx
        .config
        .creditor(ORGANIZATION)
        .ok_or("--demo needs creditor 77777777777 in the configuration")?;
    let now = ctx.clock.now();
    let due = convert::format_datetime(now + Duration::days(365));
    let mut lines = Vec::new();
    for (publish, input) in examples(&due)? {
        let mut position = convert::new_position(input, creditor, now)
            .map_err(|e| format!("demo position is invalid: {}", e[0]))?;
        if publish {
            position.apply_publication(now);
        }
        let iupd = position.iupd.to_string();
        let navs: Vec<String> = position.options.iter().map(|o| o.nav.to_string()).collect();
        let status = position.status;
        match ctx.store.create_position(position).await {
            Ok(_) => lines.push(format!("{iupd}: {status}, notices {}", navs.join(", "))),
            Err(StoreError::Duplicate { .. }) => lines.push(format!("{iupd}: already present")),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(lines)
}

/// The label of the keys `serve --demo` makes.
pub const KEY_LABEL: &str = "serve --demo";

/// A new API key bound to every configured creditor; the one an earlier `--demo` start made is
/// revoked. Only hashes are stored, so an earlier key could not be shown again; and a fixed,
/// published demo key would open any demo instance reachable from elsewhere.
pub async fn api_key(ctx: &Context) -> Result<(ApiKey, ApiKeySecret), String> {
    let now = ctx.clock.now();
    let keys = ctx.store.list_api_keys().await.map_err(|e| e.to_string())?;
    for key in keys {
        let demo = key.label.as_ref().is_some_and(|l| l.as_str() == KEY_LABEL);
        if demo && !key.is_revoked() {
            ctx.store
                .revoke_api_key(key.id, now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let scope = KeyScope::only(ctx.config.creditors.keys().cloned()).map_err(|e| e.to_string())?;
    let label = Text::new(KEY_LABEL).expect("a valid label");
    crate::keys::issue(ctx.store.as_ref(), scope, Some(label), now).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::domain::position::tests::at;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn each_start_replaces_the_demo_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let ctx = Context::new(Config::example(), store, Clock::system());
        let (own, _) = crate::keys::issue(ctx.store.as_ref(), KeyScope::All, None, ctx.clock.now())
            .await
            .unwrap();
        let (first, first_secret) = api_key(&ctx).await.unwrap();
        assert_eq!(first.scope.to_string(), "77777777777,88888888888");
        let (second, second_secret) = api_key(&ctx).await.unwrap();
        assert_ne!(first_secret, second_secret);
        let found = |s: ApiKeySecret| {
            let store = ctx.store.clone();
            async move { store.api_key_by_hash(s.hash()).await.unwrap().unwrap() }
        };
        assert!(found(first_secret).await.is_revoked());
        assert!(!found(second_secret).await.is_revoked());
        assert_eq!(second.label.unwrap().as_str(), KEY_LABEL);
        // Other keys are left alone.
        let listed = ctx.store.list_api_keys().await.unwrap();
        assert_eq!(listed.len(), 3);
        assert!(!listed.iter().find(|k| k.id == own.id).unwrap().is_revoked());
    }

    #[test]
    fn every_example_is_a_valid_position_of_the_example_creditor() {
        let config = Config::example();
        let creditor = config.creditor(ORGANIZATION).unwrap();
        let examples = examples(&convert::format_datetime(at(2031, 1, 1))).unwrap();
        let publish: Vec<bool> = examples.iter().map(|(p, _)| *p).collect();
        assert_eq!(publish, [true, true, true, false]);
        for (_, input) in examples {
            let p = convert::new_position(input, creditor, at(2030, 1, 1)).unwrap();
            assert_eq!(p.company_name.as_str(), "Comune di Esempio");
            assert_eq!(p.debtor.subject.full_name.as_str(), "Mario Rossi");
            assert!(p.options.iter().all(|o| o.due_date == at(2031, 1, 1)));
        }
    }
}
