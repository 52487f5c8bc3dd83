//! Versioned schemas: a new database gets every migration and records it; a store created before
//! versions were recorded adopts version 1 with its data; a database ahead of this build is
//! refused with a stable code. SQLite always, Postgres when `FATHOM_TEST_DATABASE_URL` is set.

use fathom_conversations::migrate::{self, AppliedMigration};
use fathom_conversations::testing::scratch_postgres;
use fathom_conversations::{
    ConversationStore, PostgresOptions, PostgresStore, SqliteStore, StoreError, TokenHash,
};
use fathom_core::{CustomerAttributes, WorkspaceId};
use tempfile::TempDir;

fn versions(applied: &[AppliedMigration]) -> Vec<i64> {
    applied.iter().map(|m| m.version).collect()
}

fn all_versions(known: &[migrate::Migration]) -> Vec<i64> {
    known.iter().map(|m| m.version).collect()
}

#[tokio::test]
async fn a_new_sqlite_file_records_every_migration_once() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        versions(&store.schema().await.unwrap()),
        all_versions(migrate::SQLITE)
    );
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    let applied = again.schema().await.unwrap();
    assert_eq!(versions(&applied), all_versions(migrate::SQLITE));
    assert_eq!(applied[0].checksum, migrate::SQLITE[0].checksum());
}

#[tokio::test]
async fn a_sqlite_file_from_before_versions_keeps_its_conversations() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.sqlite");
    let id = "6d3c3a4e-2f7b-4a39-9b7e-1f0c2d3e4f5a";
    {
        // What `fathom serve` created before migrations were versioned: the same tables, no
        // schema_migrations.
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch(migrate::SQLITE[0].sql).unwrap();
        connection
            .execute(
                "INSERT INTO conversations (id, workspace, token_hash, state, customer, created_at, updated_at)
                 VALUES (?1, 'acme', ?2, 'bot', '{}', 1, 1)",
                rusqlite::params![id, TokenHash::of("t").as_str()],
            )
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        versions(&store.schema().await.unwrap()),
        all_versions(migrate::SQLITE)
    );
    let acme = WorkspaceId::parse("acme").unwrap();
    let found = store
        .get(
            &acme,
            fathom_conversations::ConversationId::parse(id).unwrap(),
        )
        .await
        .unwrap();
    assert!(found.is_some());
}

#[tokio::test]
async fn a_sqlite_file_from_a_newer_fathom_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)",
            [],
        )
        .unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert_eq!(error.code(), "schema_too_new", "{error}");
    assert!(error.to_string().contains("999"), "{error}");
}

#[tokio::test]
async fn postgres_gateways_starting_together_migrate_once() {
    let Some(url) = scratch_postgres("schema").await else {
        return;
    };
    let starts = (0..4).map(|_| PostgresStore::connect(&url, PostgresOptions::default()));
    let stores: Vec<PostgresStore> = futures::future::try_join_all(starts).await.unwrap();
    let applied = stores[0].schema().await.unwrap();
    assert_eq!(versions(&applied), all_versions(migrate::POSTGRES));
    let workspace = WorkspaceId::parse("acme").unwrap();
    stores[3]
        .create(
            &workspace,
            CustomerAttributes::default(),
            TokenHash::of("t"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_fathom_is_refused() {
    let Some(url) = scratch_postgres("schema").await else {
        return;
    };
    drop(
        PostgresStore::connect(&url, PostgresOptions::default())
            .await
            .unwrap(),
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)",
            &[],
        )
        .await
        .unwrap();
    let error = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Schema(_)), "{error}");
    assert_eq!(error.code(), "schema_too_new");
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_open_error() {
    let error = PostgresStore::connect(
        "postgres://fathom@127.0.0.1:1/fathom",
        PostgresOptions {
            timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), "store_unavailable", "{error}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    let error = PostgresStore::connect("postgres://[bad", PostgresOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "store_unavailable", "{error}");
}
