//! `serve --demo`: a few example positions for the configured example creditors, created
//! through the same validation as the REST API, so that the README's examples work at once.
//! Seeding again finds them there and leaves them alone. Also an API key for those examples,
//! made anew at every start (see [`api_key`]).

use chrono::Duration;
use serde_json::{Value, json};

use crate::context::Context;
use crate::domain::Text;
use crate::domain::api_key::{ApiKey, ApiKeySecret, KeyScope};
use crate::json::convert;
use crate::json::model::PositionIn;
use crate::store::StoreError;

pub const ORGANIZATION: &str = "77777777777";

struct Example {
    publish: bool,
    body: Value,
}

fn examples(due: &str) -> Vec<Example> {
    let debtor = json!({"type": "F", "fiscalCode": "RSSMRA80A01H501U", "fullName": "Mario Rossi",
        "streetName": "Via Roma", "civicNumber": "1", "postalCode": "00100", "city": "Roma", "province": "RM",
        "country": "IT", "email": "mario.rossi@example.it"});
    let with = |mut body: Value| {
        for (k, v) in debtor.as_object().expect("object") {
            body[k] = v.clone();
        }
        body["companyName"] = json!("Comune di Esempio");
        body["officeName"] = json!("Ufficio Tributi");
        body
    };
    let iban = "IT60X0542811101000000123456";
    vec![
        // Waste tax, split with the province: notice 301000000000000144.
        Example {
            publish: true,
            body: with(
                json!({"iupd": "DEMO-TARI-2025", "switchToExpired": false, "paymentOption": [{
                "iuv": "01000000000000144", "amount": 15000, "description": "TARI 2025 - saldo",
                "isPartialPayment": false, "dueDate": due,
                "paymentOptionMetadata": [{"key": "anno", "value": "2025"}],
                "transfer": [
                    {"idTransfer": "1", "amount": 12000, "remittanceInformation": "TARI 2025 quota comunale",
                     "category": "9/0101108TS/", "iban": iban, "postalIban": "IT21Q0760101600000000654321"},
                    {"idTransfer": "2", "amount": 3000, "organizationFiscalCode": "88888888888",
                     "remittanceInformation": "TARI 2025 tributo provinciale", "category": "9/0101108TS/",
                     "iban": "IT02A0301503200000003517230"}]}]}),
            ),
        },
        // One payment or two installments: notices 301000000000000245, …346, …447.
        Example {
            publish: true,
            body: with(
                json!({"iupd": "DEMO-IMU-2025", "switchToExpired": false, "paymentOption": [
                {"iuv": "01000000000000245", "amount": 30000, "description": "IMU 2025 - unica soluzione",
                 "isPartialPayment": false, "dueDate": due,
                 "transfer": [{"idTransfer": "1", "amount": 30000, "remittanceInformation": "IMU 2025",
                               "category": "9/0101100IM/", "iban": iban}]},
                {"iuv": "01000000000000346", "amount": 15000, "description": "IMU 2025 - prima rata",
                 "isPartialPayment": true, "dueDate": due,
                 "transfer": [{"idTransfer": "1", "amount": 15000, "remittanceInformation": "IMU 2025 rata 1",
                               "category": "9/0101100IM/", "iban": iban}]},
                {"iuv": "01000000000000447", "amount": 15000, "description": "IMU 2025 - seconda rata",
                 "isPartialPayment": true, "dueDate": due,
                 "transfer": [{"idTransfer": "1", "amount": 15000, "remittanceInformation": "IMU 2025 rata 2",
                               "category": "9/0101100IM/", "iban": iban}]}]}),
            ),
        },
        // A certificate with a digital stamp: notice 301000000000000548 (paGetPaymentV2 only).
        Example {
            publish: true,
            body: with(
                json!({"iupd": "DEMO-CERTIFICATO", "switchToExpired": false, "paymentOption": [{
                "iuv": "01000000000000548", "amount": 2600, "description": "Certificato anagrafico",
                "isPartialPayment": false, "dueDate": due,
                "transfer": [
                    {"idTransfer": "1", "amount": 1000, "remittanceInformation": "Diritti di segreteria",
                     "category": "9/0201102IM/", "iban": iban},
                    {"idTransfer": "2", "amount": 1600, "remittanceInformation": "Imposta di bollo",
                     "category": "9/0201133IM/",
                     "stamp": {"hashDocument": "wHpFSLCGZjIvNSXxqtGbxg7275t446DHJZ+Ys6UFTmQ=",
                               "stampType": "01", "provincialResidence": "RM"}}]}]}),
            ),
        },
        // Not published yet: notice 301000000000000649 is unknown to the Node.
        Example {
            publish: false,
            body: with(
                json!({"iupd": "DEMO-BOZZA", "switchToExpired": false, "paymentOption": [{
                "iuv": "01000000000000649", "amount": 5000, "description": "Mensa scolastica",
                "isPartialPayment": false, "dueDate": due,
                "transfer": [{"idTransfer": "1", "amount": 5000, "remittanceInformation": "Mensa scolastica",
                              "category": "9/0101108TS/", "iban": iban}]}]}),
            ),
        },
    ]
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
    for example in examples(&due) {
        let input: PositionIn = serde_json::from_value(example.body).map_err(|e| e.to_string())?;
        let mut position = convert::new_position(input, creditor, now)
            .map_err(|e| format!("demo position is invalid: {}", e[0]))?;
        if example.publish {
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
    let scope =
        KeyScope::organizations(ctx.config.creditors.keys().cloned()).map_err(|e| e.to_string())?;
    let label = Text::new(KEY_LABEL).expect("a valid label");
    crate::keys::issue(ctx.store.as_ref(), scope, Some(label), now).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn each_start_replaces_the_demo_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let ctx = Context::new(Config::example(), store, Clock::system());
        let (own, _) = crate::keys::issue(
            ctx.store.as_ref(),
            KeyScope::AllOrganizations,
            None,
            ctx.clock.now(),
        )
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
}
