//! Versioned schemas. Each backend has an ordered list of migrations, SQL files under
//! `migrations/<backend>/NNNN_name.sql` compiled into the binary. A database records the ones it
//! applied in `schema_migrations (version, name, checksum, applied_at)`. Opening a store applies
//! the missing ones in order, in one transaction (under an advisory lock on Postgres, so gateways
//! starting together do not race), and refuses to start when the database is ahead of this build
//! or when the text of an applied migration has changed since.
//!
//! Migrations are append-only: to change the schema, add a file and a line below, never edit one
//! that has shipped.

use serde::Serialize;

/// One step of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// blake3 of the SQL text: an applied migration whose text changed is refused.
    pub fn checksum(&self) -> String {
        blake3::hash(self.sql.as_bytes()).to_hex().to_string()
    }
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database is at schema version {database}, newer than this build knows ({known}): \
         upgrade fathom, or point it at another database"
    )]
    TooNew { database: i64, known: i64 },
    #[error(
        "migration {version} ({name}) differs from the one applied to this database \
         (checksum {applied} there, {expected} here): migrations must never be edited once shipped"
    )]
    Changed {
        version: i64,
        name: String,
        applied: String,
        expected: String,
    },
}

impl SchemaError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooNew { .. } => "schema_too_new",
            Self::Changed { .. } => "schema_changed",
        }
    }
}

/// The embedded store's schema.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "scope_inbound_deliveries",
        sql: include_str!("../migrations/sqlite/0002_scope_inbound_deliveries.sql"),
    },
    Migration {
        version: 3,
        name: "number_messages_per_conversation",
        sql: include_str!("../migrations/sqlite/0003_number_messages_per_conversation.sql"),
    },
];

/// The Postgres store's schema (the same tables, with Postgres types).
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "scope_inbound_deliveries",
        sql: include_str!("../migrations/postgres/0002_scope_inbound_deliveries.sql"),
    },
    Migration {
        version: 3,
        name: "number_messages_per_conversation",
        sql: include_str!("../migrations/postgres/0003_number_messages_per_conversation.sql"),
    },
];

/// The latest version of a list.
pub fn latest(known: &[Migration]) -> i64 {
    known.last().map_or(0, |m| m.version)
}

/// The migrations of `known` that `applied` lacks, in order; an error if the database is ahead
/// of `known` or an applied migration no longer matches its text.
pub fn pending<'a>(
    known: &'a [Migration],
    applied: &[AppliedMigration],
) -> Result<Vec<&'a Migration>, SchemaError> {
    let newest_known = latest(known);
    if let Some(ahead) = applied.iter().map(|a| a.version).max() {
        if ahead > newest_known {
            return Err(SchemaError::TooNew {
                database: ahead,
                known: newest_known,
            });
        }
    }
    let mut missing = Vec::new();
    for migration in known {
        match applied.iter().find(|a| a.version == migration.version) {
            Some(done) if done.checksum != migration.checksum() => {
                return Err(SchemaError::Changed {
                    version: migration.version,
                    name: migration.name.to_string(),
                    applied: done.checksum.clone(),
                    expected: migration.checksum(),
                })
            }
            Some(_) => {}
            None => missing.push(migration),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Migration] = &[
        Migration {
            version: 1,
            name: "initial",
            sql: "CREATE TABLE a (x INTEGER);",
        },
        Migration {
            version: 2,
            name: "more",
            sql: "CREATE TABLE b (y INTEGER);",
        },
    ];

    fn applied(migration: &Migration) -> AppliedMigration {
        AppliedMigration {
            version: migration.version,
            name: migration.name.into(),
            checksum: migration.checksum(),
            applied_at_ms: 0,
        }
    }

    #[test]
    fn a_new_database_gets_every_migration_in_order() {
        let versions: Vec<i64> = pending(KNOWN, &[])
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, vec![1, 2]);
    }

    #[test]
    fn a_database_one_version_behind_gets_the_rest() {
        let missing = pending(KNOWN, &[applied(&KNOWN[0])]).unwrap();
        assert_eq!(missing, vec![&KNOWN[1]]);
        assert!(pending(KNOWN, &[applied(&KNOWN[0]), applied(&KNOWN[1])])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_database_ahead_of_this_build_is_refused() {
        let future = AppliedMigration {
            version: 3,
            ..applied(&KNOWN[1])
        };
        let error = pending(KNOWN, &[applied(&KNOWN[0]), future]).unwrap_err();
        assert_eq!(
            error,
            SchemaError::TooNew {
                database: 3,
                known: 2
            }
        );
        assert_eq!(error.code(), "schema_too_new");
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let edited = AppliedMigration {
            checksum: "0".repeat(64),
            ..applied(&KNOWN[0])
        };
        let error = pending(KNOWN, &[edited]).unwrap_err();
        assert!(matches!(error, SchemaError::Changed { version: 1, .. }));
    }

    #[test]
    fn shipped_lists_are_numbered_one_by_one_from_one() {
        for list in [SQLITE, POSTGRES] {
            for (index, migration) in list.iter().enumerate() {
                assert_eq!(migration.version, index as i64 + 1, "{}", migration.name);
            }
        }
    }
}
