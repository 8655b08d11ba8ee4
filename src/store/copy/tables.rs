//! What `store copy` copies: every data table of the two schemas, in an order where each row's
//! references are copied before it, with its columns, their kinds and the key its rows are read
//! in. A column's value is read from SQLite as the one type its kind admits (a 0/1 flag as a
//! boolean), written to PostgreSQL as that, and read back as that for the checksums.

use bytes::BytesMut;
use ring::digest::{Context, SHA256};
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// How a column is stored: SQLite's `INTEGER`, `TEXT`, `BLOB`, and its 0/1 flags, which are
/// PostgreSQL's `bigint`, `text`, `bytea` and `boolean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Flag,
    Text,
    Bytes,
}

impl Kind {
    pub fn pg_type(self) -> Type {
        match self {
            Kind::Int => Type::INT8,
            Kind::Flag => Type::BOOL,
            Kind::Text => Type::TEXT,
            Kind::Bytes => Type::BYTEA,
        }
    }
}

pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key: rows are read in its order on both sides, for the checksums.
    pub key: &'static [&'static str],
    /// `id` is an identity column, whose sequence must move past the copied ids.
    pub identity: bool,
}

impl Table {
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.columns.iter().map(|(_, kind)| *kind)
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `ORDER BY` the key; on PostgreSQL, text bytewise as SQLite orders it, whatever the
    /// column's collation.
    pub fn order_by(&self, postgres: bool) -> String {
        self.key
            .iter()
            .map(|k| {
                let text = self
                    .columns
                    .iter()
                    .any(|(n, kind)| n == k && *kind == Kind::Text);
                if postgres && text {
                    format!("{k} COLLATE \"C\"")
                } else {
                    (*k).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bytes, Flag, Int, Text};

/// The data tables. Not here: `store_probe` (the readiness check's scratch row, rewritten by
/// every check), SQLite's `delivery_request_backfill` (a copy is refused while it has a row)
/// and PostgreSQL's `schema_version` (the migrator's).
pub const TABLES: &[Table] = &[
    Table {
        name: "debt_position",
        columns: &[
            ("id", Int),
            ("organization", Text),
            ("iupd", Text),
            ("status", Text),
            ("company_name", Text),
            ("office_name", Text),
            ("debtor_type", Text),
            ("debtor_fiscal_code", Text),
            ("debtor_full_name", Text),
            ("street_name", Text),
            ("civic_number", Text),
            ("postal_code", Text),
            ("city", Text),
            ("province", Text),
            ("region", Text),
            ("country", Text),
            ("email", Text),
            ("phone", Text),
            ("switch_to_expired", Flag),
            ("pay_stand_in", Flag),
            ("validity_date", Int),
            ("publish_date", Int),
            ("payment_date", Int),
            ("inserted_date", Int),
            ("last_updated_date", Int),
            ("version", Int),
            ("expires_after", Int),
            ("spontaneous", Flag),
            ("retained_until", Int),
            ("personal_data_erased_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "payment_option",
        columns: &[
            ("id", Int),
            ("position_id", Int),
            ("organization", Text),
            ("iuv", Text),
            ("nav", Text),
            ("amount", Int),
            ("description", Text),
            ("is_partial_payment", Flag),
            ("due_date", Int),
            ("retention_date", Int),
            ("notification_fee", Int),
            ("status", Text),
            ("payment_date", Int),
            ("payment_method", Text),
            ("psp_company", Text),
            ("receipt_id", Text),
            ("fee", Int),
            ("metadata", Text),
            ("last_updated_date", Int),
            ("send_sync", Flag),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "transfer",
        columns: &[
            ("option_id", Int),
            ("transfer_id", Int),
            ("organization", Text),
            ("company_name", Text),
            ("amount", Int),
            ("remittance_information", Text),
            ("category", Text),
            ("iban", Text),
            ("postal_iban", Text),
            ("stamp_hash", Text),
            ("stamp_type", Text),
            ("stamp_province", Text),
            ("status", Text),
            ("metadata", Text),
        ],
        key: &["option_id", "transfer_id"],
        identity: false,
    },
    Table {
        name: "iuv_sequence",
        columns: &[
            ("organization", Text),
            ("segregation_code", Text),
            ("next_base", Int),
        ],
        key: &["organization", "segregation_code"],
        identity: false,
    },
    Table {
        name: "receipt",
        columns: &[
            ("id", Int),
            ("organization", Text),
            ("receipt_id", Text),
            ("recipient", Text),
            ("broker_id", Text),
            ("station_id", Text),
            ("version", Int),
            ("iuv", Text),
            ("nav", Text),
            ("status", Text),
            ("flag", Text),
            ("flag_description", Text),
            ("amount", Int),
            ("debtor", Text),
            ("payer", Text),
            ("psp_id", Text),
            ("psp_company", Text),
            ("payment_date_time", Text),
            ("payment_time", Int),
            ("stand_in", Flag),
            ("received_at", Int),
            ("document", Bytes),
            ("digest", Bytes),
            ("personal_data_erased_at", Int),
            ("origin", Text),
            ("unbound_station", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "receipt_beneficiary",
        columns: &[("organization", Text), ("receipt", Int)],
        key: &["organization", "receipt"],
        identity: false,
    },
    Table {
        name: "broadcast_station",
        columns: &[
            ("organization", Text),
            ("station_id", Text),
            ("broker_id", Text),
            ("url", Text),
            ("primitive_version", Int),
            ("timeout_ms", Int),
            ("enabled", Flag),
            ("updated_at", Int),
        ],
        key: &["organization", "station_id"],
        identity: false,
    },
    Table {
        name: "delivery",
        columns: &[
            ("id", Int),
            ("receipt", Int),
            ("organization", Text),
            ("station_id", Text),
            ("broker_id", Text),
            ("url", Text),
            ("primitive_version", Int),
            ("timeout_ms", Int),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("fault_code", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("delivered_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "delivery_request",
        columns: &[("delivery", Int), ("request", Bytes)],
        key: &["delivery"],
        identity: false,
    },
    Table {
        name: "api_key",
        columns: &[
            ("id", Text),
            ("hash", Bytes),
            ("label", Text),
            ("all_organizations", Flag),
            ("created_at", Int),
            ("revoked_at", Int),
            ("segregation_codes", Text),
        ],
        key: &["id"],
        identity: false,
    },
    Table {
        name: "api_key_organization",
        columns: &[("key_id", Text), ("organization", Text)],
        key: &["key_id", "organization"],
        identity: false,
    },
    Table {
        name: "upload_file",
        columns: &[
            ("id", Text),
            ("broker", Text),
            ("organization", Text),
            ("operation", Text),
            ("content", Bytes),
            ("submitted", Int),
            ("processed", Int),
            ("started_at", Int),
            ("ended_at", Int),
        ],
        key: &["id"],
        identity: false,
    },
    Table {
        name: "upload_outcome",
        columns: &[
            ("file", Text),
            ("item", Int),
            ("iupd", Text),
            ("status", Int),
            ("message", Text),
        ],
        key: &["file", "item"],
        identity: false,
    },
    Table {
        name: "event_journal",
        columns: &[
            ("id", Int),
            ("at", Int),
            ("kind", Text),
            ("organization", Text),
            ("primitive", Text),
            ("broker_id", Text),
            ("station_id", Text),
            ("notice_number", Text),
            ("iuv", Text),
            ("iupd_digest", Text),
            ("receipt_id", Text),
            ("key_id", Text),
            ("method", Text),
            ("route", Text),
            ("status", Int),
            ("outcome", Text),
            ("fault_code", Text),
            ("error", Text),
            ("attempt", Int),
            ("duration_us", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "reporting_flow",
        columns: &[
            ("id", Int),
            ("organization", Text),
            ("fdr", Text),
            ("psp_id", Text),
            ("revision", Int),
            ("fdr_date", Int),
            ("published", Int),
            ("regulation", Text),
            ("regulation_date", Text),
            ("bic", Text),
            ("tot_payments", Int),
            ("sum_payments", Int),
            ("computed_tot", Int),
            ("computed_sum", Int),
            ("superseded", Flag),
            ("received_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "reporting_payment",
        columns: &[
            ("flow_id", Int),
            ("idx", Int),
            ("organization", Text),
            ("iuv", Text),
            ("iur", Text),
            ("transfer_id", Int),
            ("amount", Int),
            ("pay_status", Text),
            ("pay_date", Int),
            ("outcome", Text),
            ("expected_amount", Int),
            ("reports", Flag),
        ],
        key: &["flow_id", "idx"],
        identity: false,
    },
    Table {
        name: "reporting_anomaly",
        columns: &[
            ("id", Int),
            ("organization", Text),
            ("kind", Text),
            ("flow_id", Int),
            ("idx", Int),
            ("iuv", Text),
            ("transfer_id", Int),
            ("expected_amount", Int),
            ("reported_amount", Int),
            ("found_at", Int),
            ("resolved_at", Int),
            ("recovery_due", Int),
            ("recovery_attempts", Int),
            ("recovery_outcome", Text),
            ("recovery_detail", Text),
            ("recovery_at", Int),
        ],
        key: &["id"],
        identity: true,
    },
    // After debt_position: the mirror's state of the positions of creditors mirrored to the
    // central notices archive. aca_creditor is not copied: each start writes it from the
    // configuration.
    Table {
        name: "aca_mirror",
        columns: &[
            ("organization", Text),
            ("iupd", Text),
            ("generation", Int),
            ("mirrored_generation", Int),
            ("change_seq", Int),
            ("state", Text),
            ("due_at", Int),
            ("lease_until", Int),
            ("attempts", Int),
            ("last_attempt_at", Int),
            ("last_error", Text),
            ("archived_status", Text),
            ("archived_digest", Text),
            ("archived_paid", Text),
        ],
        key: &["organization", "iupd"],
        identity: false,
    },
    // Jobs of payment notices, each before its notices.
    Table {
        name: "notice_job",
        columns: &[
            ("id", Text),
            ("organization", Text),
            ("idempotency_key", Text),
            ("state", Text),
            ("created_at", Int),
            ("started_at", Int),
            ("finished_at", Int),
            ("error", Text),
        ],
        key: &["id"],
        identity: false,
    },
    Table {
        name: "notice_job_item",
        columns: &[
            ("job_id", Text),
            ("seq", Int),
            ("iupd", Text),
            ("outcome", Text),
            ("reason", Text),
            ("pdf", Bytes),
            ("lease_until", Int),
        ],
        key: &["job_id", "seq"],
        identity: false,
    },
];

/// One column's value of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Flag(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// A SQLite value as a column of `kind` holds it; what it cannot be (text in an integer
    /// column, a flag other than 0 or 1, text that is not UTF-8) is refused, with why.
    pub fn from_sqlite(value: rusqlite::types::ValueRef<'_>, kind: Kind) -> Result<Value, String> {
        use rusqlite::types::ValueRef as V;
        Ok(match (value, kind) {
            (V::Null, _) => Value::Null,
            (V::Integer(i), Kind::Int) => Value::Int(i),
            (V::Integer(0), Kind::Flag) => Value::Flag(false),
            (V::Integer(1), Kind::Flag) => Value::Flag(true),
            (V::Integer(i), Kind::Flag) => return Err(format!("{i} is not a 0/1 flag")),
            (V::Text(t), Kind::Text) => Value::Text(
                String::from_utf8(t.to_vec()).map_err(|_| "text that is not UTF-8".to_owned())?,
            ),
            (V::Blob(b), Kind::Bytes) => Value::Bytes(b.to_vec()),
            (other, kind) => {
                return Err(format!(
                    "a {:?} value in a {kind:?} column",
                    other.data_type()
                ));
            }
        })
    }

    /// Column `i` of a PostgreSQL row, read as `kind`.
    pub fn from_postgres(row: &Row, i: usize, kind: Kind) -> Result<Value, tokio_postgres::Error> {
        Ok(match kind {
            Kind::Int => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Kind::Flag => row.try_get::<_, Option<bool>>(i)?.map(Value::Flag),
            Kind::Text => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
            Kind::Bytes => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
        }
        .unwrap_or(Value::Null))
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Flag(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::BOOL, Type::TEXT, Type::BYTEA].contains(ty)
    }

    to_sql_checked!();
}

/// SHA-256 over a table's rows in key order, each value tagged with its kind and each text or
/// byte string with its length, so that no two different sequences of rows write the same
/// bytes.
pub struct Checksum {
    digest: Context,
    pub rows: u64,
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum {
            digest: Context::new(&SHA256),
            rows: 0,
        }
    }

    pub fn add(&mut self, row: &[Value]) {
        self.rows += 1;
        for value in row {
            match value {
                Value::Null => self.digest.update(&[0]),
                Value::Int(i) => {
                    self.digest.update(&[1]);
                    self.digest.update(&i.to_be_bytes());
                }
                Value::Flag(b) => self.digest.update(&[2, u8::from(*b)]),
                Value::Text(s) => self.string(3, s.as_bytes()),
                Value::Bytes(b) => self.string(4, b),
            }
        }
    }

    fn string(&mut self, tag: u8, bytes: &[u8]) {
        self.digest.update(&[tag]);
        self.digest.update(&(bytes.len() as u64).to_be_bytes());
        self.digest.update(bytes);
    }

    /// The digest in hexadecimal.
    pub fn finish(self) -> String {
        self.digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(rows: &[&[Value]]) -> String {
        let mut c = Checksum::new();
        for row in rows {
            c.add(row);
        }
        c.finish()
    }

    #[test]
    fn rows_that_differ_anywhere_sum_differently() {
        let t = |s: &str| Value::Text(s.to_owned());
        let base = sum(&[&[Value::Int(1), t("ab")], &[Value::Int(2), t("c")]]);
        for other in [
            sum(&[&[Value::Int(1), t("a")], &[t("b"), Value::Int(2), t("c")]]),
            sum(&[&[Value::Int(1), t("abc")], &[Value::Int(2)]]),
            sum(&[
                &[Value::Int(1), Value::Bytes(b"ab".to_vec())],
                &[Value::Int(2), t("c")],
            ]),
            sum(&[&[Value::Int(1), t("ab")], &[Value::Int(2), Value::Null]]),
            sum(&[&[Value::Int(2), t("c")], &[Value::Int(1), t("ab")]]),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(
            base,
            sum(&[&[Value::Int(1), t("ab")], &[Value::Int(2), t("c")]])
        );
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn sqlite_values_are_taken_only_as_their_column_holds_them() {
        use rusqlite::types::ValueRef as V;
        assert_eq!(
            Value::from_sqlite(V::Integer(1), Kind::Flag),
            Ok(Value::Flag(true))
        );
        assert_eq!(
            Value::from_sqlite(V::Integer(0), Kind::Flag),
            Ok(Value::Flag(false))
        );
        assert_eq!(Value::from_sqlite(V::Null, Kind::Flag), Ok(Value::Null));
        assert_eq!(
            Value::from_sqlite(V::Integer(-7), Kind::Int),
            Ok(Value::Int(-7))
        );
        assert_eq!(
            Value::from_sqlite(V::Blob(b"\x00\xff"), Kind::Bytes),
            Ok(Value::Bytes(vec![0, 255]))
        );
        assert!(
            Value::from_sqlite(V::Integer(2), Kind::Flag)
                .unwrap_err()
                .contains("flag")
        );
        assert!(
            Value::from_sqlite(V::Text(b"12"), Kind::Int)
                .unwrap_err()
                .contains("Text")
        );
        assert!(
            Value::from_sqlite(V::Text(b"\xff"), Kind::Text)
                .unwrap_err()
                .contains("UTF-8")
        );
        assert!(Value::from_sqlite(V::Blob(b"x"), Kind::Text).is_err());
        assert!(Value::from_sqlite(V::Real(1.5), Kind::Int).is_err());
    }
}
