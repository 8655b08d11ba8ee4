//! `[store]`: where the gateway keeps its data. Without a `url`, the embedded SQLite file under
//! `--data`; with one, a PostgreSQL database that several instances may share. The password
//! may stay out of the file (`password_file`, or `PGPASSWORD` in the environment), and it is
//! never shown: the URL is displayed and logged without it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::Deserializer;

use super::value::{Refusal, require};

/// `[store]` as configured.
#[derive(Debug, Clone, Default)]
pub struct StoreSection {
    pub url: Option<PostgresUrl>,
    /// A file holding the database password (its first line), read at start.
    pub password_file: Option<PathBuf>,
    /// Connections each instance keeps open at most.
    pub max_connections: Option<usize>,
}

/// `[store]` as serde reads it. The URL is checked afterwards, apart from the TOML reader,
/// whose errors quote the line they are about: a URL may hold a password.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
    url: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(deserialize_with = "connections")]
    max_connections: Option<usize>,
}

impl RawStore {
    pub(super) fn check(self) -> Result<StoreSection, Refusal> {
        let url = self
            .url
            .map(|s| PostgresUrl::parse(&s).map_err(|e| Refusal::at("store.url", e)))
            .transpose()?;
        Ok(StoreSection {
            url,
            password_file: self.password_file,
            max_connections: self.max_connections,
        })
    }
}

/// Connections to PostgreSQL when `max_connections` is not set.
pub const DEFAULT_CONNECTIONS: usize = 16;

/// A PostgreSQL connection string (`postgres://…` or libpq's `key=value` form), checked.
#[derive(Clone)]
pub struct PostgresUrl(tokio_postgres::Config);

impl PostgresUrl {
    pub fn parse(s: &str) -> Result<PostgresUrl, String> {
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://") || s.contains('=')) {
            return Err("must be a postgres:// URL or a libpq connection string".into());
        }
        // The parser's messages never repeat the string, which may hold a password.
        let config: tokio_postgres::Config = s.parse().map_err(|e| format!("{e}"))?;
        if config.get_hosts().is_empty() {
            return Err("names no host".into());
        }
        Ok(PostgresUrl(config))
    }

    /// The connection settings, with the password from `password_file`, else the URL's own,
    /// else `PGPASSWORD`.
    pub fn connection(
        &self,
        password_file: Option<&Path>,
    ) -> Result<tokio_postgres::Config, String> {
        let mut config = self.0.clone();
        if let Some(path) = password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("store.password_file {}: {e}", path.display()))?;
            config.password(text.lines().next().unwrap_or_default());
        } else if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        Ok(config)
    }
}

/// `user@host:port/dbname`, never the password.
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        f.write_str("postgres://")?;
        if let Some(user) = c.get_user() {
            write!(f, "{user}@")?;
        }
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        f.write_str(&hosts.join(","))?;
        if let [port] = c.get_ports() {
            write!(f, ":{port}")?;
        }
        if let Some(db) = c.get_dbname() {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

fn connections<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    require(
        usize::deserialize(d)?,
        |n| (1..=1000).contains(n),
        "must be 1 to 1000",
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        for s in [
            "postgres://gpd:s3cret@db.example:5433/gateway",
            "host=db.example port=5433 user=gpd password=s3cret dbname=gateway",
        ] {
            let url = PostgresUrl::parse(s).unwrap();
            assert_eq!(url.to_string(), "postgres://gpd@db.example:5433/gateway");
            assert!(!format!("{url:?}").contains("s3cret"));
        }
    }

    #[test]
    fn what_is_not_a_connection_string_is_refused_without_echoing_it() {
        for s in [
            "db.example",
            "mysql://u:s3cret@h/db",
            "postgres://u:s3cret@[::1/db",
        ] {
            let refused = PostgresUrl::parse(s).unwrap_err();
            assert!(!refused.contains("s3cret"), "{refused}");
        }
    }

    #[test]
    fn the_password_file_wins_over_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "from-file\nignored\n").unwrap();
        let url = PostgresUrl::parse("postgres://gpd:in-url@db/gateway").unwrap();
        let with_file = url.connection(Some(&file)).unwrap();
        assert_eq!(with_file.get_password(), Some(&b"from-file"[..]));
        let without = url.connection(None).unwrap();
        assert_eq!(without.get_password(), Some(&b"in-url"[..]));
        let missing = url.connection(Some(&dir.path().join("nope"))).unwrap_err();
        assert!(missing.contains("store.password_file"), "{missing}");
    }
}
