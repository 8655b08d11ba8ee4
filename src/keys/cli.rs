//! `gpd-gateway keys create|list|revoke`: API keys for operators, read and changed directly in
//! the store. The gateway may be running: it looks keys up at every request, so a new key works
//! and a revoked one stops working at once.

use std::fmt::Write as _;

use chrono::NaiveDateTime;

use crate::config::Config;
use crate::domain::api_key::{ApiKey, KeyId, KeyScope, SegregationScope};
use crate::domain::{FiscalCodePA, Text};
use crate::listing::when;
use crate::store::Store;

/// What `keys create` prints: the secret alone on standard output (so that a script can take
/// it), and a note for the operator on standard error.
pub struct Created {
    pub secret: String,
    pub note: String,
}

/// The organizations of `--org` (repeated), or all of them with `--all-organizations`.
pub fn scope(orgs: &[String], all_organizations: bool) -> Result<KeyScope, String> {
    match (orgs.is_empty(), all_organizations) {
        (true, true) => Ok(KeyScope::All),
        (false, false) => {
            let codes = orgs
                .iter()
                .map(|o| FiscalCodePA::parse(o).map_err(|e| format!("--org {o}: must {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            KeyScope::only(codes).map_err(|e| e.to_string())
        }
        (true, false) => Err("name the organizations (--org) or give --all-organizations".into()),
        (false, true) => Err("--org and --all-organizations exclude each other".into()),
    }
}

/// Refuses a key for organizations `config` does not serve: it could never be used with it.
pub fn served(scope: &KeyScope, config: &Config) -> Result<(), String> {
    let KeyScope::Only(codes) = scope else {
        return Ok(());
    };
    let unknown: Vec<&str> = codes
        .iter()
        .filter(|c| !config.creditors.contains_key(*c))
        .map(FiscalCodePA::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let mut served: Vec<&str> = config.creditors.keys().map(FiscalCodePA::as_str).collect();
    served.sort_unstable();
    Err(format!(
        "--org {}: not served by this configuration (its creditors: {})",
        unknown.join(", "),
        served.join(", ")
    ))
}

/// The codes of `--segregation-codes` (`01,02`), for a key bound to named organizations only:
/// a code means something within a creditor, not across every creditor to come.
pub fn segregation(codes: Option<&str>, scope: &KeyScope) -> Result<SegregationScope, String> {
    let Some(codes) = codes else {
        return Ok(SegregationScope::All);
    };
    if *scope == KeyScope::All {
        return Err("--segregation-codes needs the organizations named with --org".into());
    }
    SegregationScope::parse_list(codes)
        .and_then(SegregationScope::only)
        .map_err(|e| format!("--segregation-codes {codes}: {e}"))
}

/// Refuses segregation codes that some `--org` creditor of `config` does not have: the key
/// could never touch a notice of theirs.
pub fn codes_served(
    scope: &KeyScope,
    segregation: &SegregationScope,
    config: &Config,
) -> Result<(), String> {
    let (KeyScope::Only(orgs), SegregationScope::Only(codes)) = (scope, segregation) else {
        return Ok(());
    };
    for org in orgs {
        let Some(creditor) = config.creditors.get(org) else {
            continue;
        };
        let missing: Vec<String> = codes
            .difference(&creditor.segregation_codes)
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "--segregation-codes {}: not segregation codes of {org} in this configuration",
                missing.join(",")
            ));
        }
    }
    Ok(())
}

pub fn label(label: Option<String>) -> Result<Option<Text<70>>, String> {
    label
        .map(|l| Text::new(l).map_err(|e| format!("--label {e}")))
        .transpose()
}

fn line(k: &ApiKey) -> String {
    let codes = match &k.segregation {
        SegregationScope::All => String::new(),
        only => format!(" (segregation codes {only})"),
    };
    format!(
        "{}  {:<19}  {:<19}  {}{codes}  {}",
        k.id,
        when(Some(k.created_at)),
        when(k.revoked_at),
        k.scope,
        k.label.as_ref().map_or("-", |l| l.as_str()),
    )
}

pub async fn create(
    store: &dyn Store,
    scope: KeyScope,
    segregation: SegregationScope,
    label: Option<Text<70>>,
    now: NaiveDateTime,
) -> Result<Created, String> {
    let (key, secret) = super::issue_limited(store, scope, segregation, label, now).await?;
    let codes = match &key.segregation {
        SegregationScope::All => String::new(),
        only => format!(", segregation codes {only}"),
    };
    Ok(Created {
        secret: secret.reveal().to_owned(),
        note: format!(
            "created API key {} for {}{codes}; the key printed on standard output is shown only this once",
            key.id, key.scope
        ),
    })
}

/// Every key, oldest first, one per line under a header, and a closing count.
pub async fn list(store: &dyn Store) -> Result<String, String> {
    let keys = store.list_api_keys().await.map_err(|e| e.to_string())?;
    let mut out = String::from(
        "ID            CREATED              REVOKED              ORGANIZATIONS  LABEL\n",
    );
    for k in &keys {
        writeln!(out, "{}", line(k)).expect("writing to a String");
    }
    let active = keys.iter().filter(|k| !k.is_revoked()).count();
    writeln!(out, "{} keys, {active} active", keys.len()).expect("writing to a String");
    Ok(out)
}

/// Revokes one key; returns its new line.
pub async fn revoke(store: &dyn Store, id: &str, now: NaiveDateTime) -> Result<String, String> {
    let id = KeyId::parse(id).map_err(|e| format!("{id}: {e}"))?;
    store
        .revoke_api_key(id.clone(), now)
        .await
        .map(|k| line(&k))
        .map_err(|e| format!("API key {id}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_key::ApiKeySecret;
    use crate::domain::position::tests::at;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn arguments() {
        let orgs = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(scope(&[], true), Ok(KeyScope::All));
        let two = scope(&orgs(&["88888888888", "77777777777", "88888888888"]), false).unwrap();
        assert_eq!(two.to_string(), "77777777777,88888888888");
        assert_eq!(
            scope(&orgs(&["7777"]), false),
            Err("--org 7777: must be exactly 11 digits".into())
        );
        assert!(scope(&[], false).is_err());
        assert!(scope(&orgs(&["77777777777"]), true).is_err());
        assert_eq!(label(None), Ok(None));
        assert_eq!(label(Some("ok".into())).unwrap().unwrap().as_str(), "ok");
        assert!(label(Some(" ".into())).is_err());
        assert!(label(Some("x".repeat(71))).is_err());
    }

    #[test]
    fn segregation_codes_for_named_organizations() {
        let one = scope(&["77777777777".to_string()], false).unwrap();
        assert_eq!(segregation(None, &one), Ok(SegregationScope::All));
        let codes = segregation(Some("02,01"), &one).unwrap();
        assert_eq!(codes.to_string(), "01,02");
        assert!(
            segregation(Some("1,2"), &one)
                .unwrap_err()
                .starts_with("--segregation-codes 1,2: ")
        );
        assert!(segregation(Some(""), &one).is_err());
        assert!(segregation(Some("01"), &KeyScope::All).is_err());

        let key = ApiKey {
            id: KeyId::parse("0123456789ab").unwrap(),
            label: None,
            scope: one.clone(),
            segregation: codes.clone(),
            created_at: at(2030, 1, 2),
            revoked_at: None,
        };
        assert_eq!(
            line(&key),
            "0123456789ab  2030-01-02T12:00:00  -                    \
             77777777777 (segregation codes 01,02)  -"
        );

        // The example's creditor 77777777777 has 01 and 02.
        let config = Config::example();
        assert_eq!(codes_served(&one, &codes, &config), Ok(()));
        let other = segregation(Some("02,03"), &one).unwrap();
        assert_eq!(
            codes_served(&one, &other, &config),
            Err("--segregation-codes 03: not segregation codes of 77777777777 in this configuration".into())
        );
    }

    #[test]
    fn a_configuration_limits_the_organizations() {
        let config = Config::example();
        let orgs = |o: &[&str]| scope(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>(), false);
        assert_eq!(served(&orgs(&["77777777777"]).unwrap(), &config), Ok(()));
        let refused = served(&orgs(&["77777777777", "12345678901"]).unwrap(), &config).unwrap_err();
        assert!(
            refused.starts_with("--org 12345678901: not served"),
            "{refused}"
        );
        assert!(refused.contains("77777777777"), "{refused}");
        assert_eq!(served(&KeyScope::All, &config), Ok(()));
    }

    #[tokio::test]
    async fn create_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let scope = KeyScope::only([
            FiscalCodePA::parse("88888888888").unwrap(),
            FiscalCodePA::parse("77777777777").unwrap(),
        ])
        .unwrap();
        let label = Some(Text::new("back office").unwrap());
        let created = create(&store, scope, SegregationScope::All, label, at(2030, 1, 2))
            .await
            .unwrap();
        let secret = ApiKeySecret::parse(&created.secret).expect("a key");
        let id = secret.id().to_string();
        assert!(created.note.contains(&id), "{}", created.note);
        assert!(!created.note.contains(&created.secret));
        let operator = create(
            &store,
            KeyScope::All,
            SegregationScope::All,
            None,
            at(2030, 1, 3),
        )
        .await
        .unwrap();
        assert_ne!(operator.secret, created.secret);

        let listed = list(&store).await.unwrap();
        let lines: Vec<&str> = listed.lines().collect();
        assert_eq!(lines.len(), 4, "{listed}");
        assert!(lines[0].starts_with("ID "));
        assert_eq!(
            lines[1],
            format!(
                "{id}  2030-01-02T12:00:00  -                    77777777777,88888888888  back office"
            )
        );
        assert!(lines[2].ends_with("all organizations  -"), "{}", lines[2]);
        assert_eq!(lines[3], "2 keys, 2 active");
        assert!(!listed.contains(&created.secret[16..]), "no secret listed");

        let revoked = revoke(&store, &id, at(2030, 2, 1)).await.unwrap();
        assert!(revoked.contains("2030-02-01T12:00:00"), "{revoked}");
        assert!(list(&store).await.unwrap().ends_with("2 keys, 1 active\n"));
        assert_eq!(
            revoke(&store, "000000000000", at(2030, 2, 1)).await,
            Err("API key 000000000000: not found".into())
        );
        assert!(revoke(&store, "nope", at(2030, 2, 1)).await.is_err());
    }
}
