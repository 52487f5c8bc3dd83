//! Which database holds the conversations, as a user names it: `postgres://…` (or
//! `postgresql://…`) for Postgres, `sqlite:PATH` or a bare path for a SQLite file.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{PostgresOptions, PostgresStore, SqliteStore, StoreError, Stores};

#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The connection URL, password included: never print it (`Display` hides it).
    Postgres(String),
}

impl Database {
    /// Open the store (creating a SQLite file, or upgrading either schema, as needed).
    pub async fn open(&self, options: PostgresOptions) -> Result<Stores, StoreError> {
        match self {
            Self::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                    .await
                    .map_err(|error| StoreError::Open {
                        path: self.to_string(),
                        reason: error.to_string(),
                    })??;
                Ok(Stores::new(store))
            }
            Self::Postgres(url) => Ok(Stores::new(PostgresStore::connect(url, options).await?)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl FromStr for Database {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_string()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() {
            return Err(
                "name a database: postgres://user:password@host/db, sqlite:PATH or a file path"
                    .into(),
            );
        }
        if path.contains("://") {
            return Err(format!(
                "unsupported database {raw:?}: use postgres://… or sqlite:PATH"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

/// The SQLite path, or the Postgres URL with its password replaced by `***`.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_name_their_backend() {
        assert_eq!(
            "postgres://fathom@db:5432/fathom".parse::<Database>(),
            Ok(Database::Postgres(
                "postgres://fathom@db:5432/fathom".into()
            ))
        );
        assert!("postgresql://db/fathom"
            .parse::<Database>()
            .unwrap()
            .is_postgres());
        assert_eq!(
            "sqlite:data/conversations.sqlite".parse::<Database>(),
            Ok(Database::Sqlite("data/conversations.sqlite".into()))
        );
        assert_eq!(
            "data/conversations.sqlite".parse::<Database>(),
            Ok(Database::Sqlite("data/conversations.sqlite".into()))
        );
        assert!("mysql://db/fathom".parse::<Database>().is_err());
        assert!("".parse::<Database>().is_err());
    }

    #[test]
    fn a_postgres_password_is_never_displayed() {
        let database: Database = "postgres://fathom:s3cret@db:5432/fathom".parse().unwrap();
        assert_eq!(database.to_string(), "postgres://fathom:***@db:5432/fathom");
        assert!(!format!("{database:?}").contains("s3cret"));
    }
}
