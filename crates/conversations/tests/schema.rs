//! Versioned schemas: a new database gets every migration and records it; a store created before
//! versions were recorded adopts version 1 with its data; a database ahead of this build is
//! refused with a stable code. SQLite always, Postgres when `FATHOM_TEST_DATABASE_URL` is set.

use fathom_conversations::migrate::{self, AppliedMigration};
use fathom_conversations::testing::scratch_postgres;
use fathom_conversations::{
    Change, ConversationId, ConversationReports, ConversationStore, NewMessage, PostgresOptions,
    PostgresStore, SqliteStore, StoreError, TokenHash,
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

/// A Postgres database at version 2, where a message's `seq` counted across every conversation:
/// migration 3 numbers each conversation's messages from 1, feedback keeps naming the same
/// message, and new messages continue each conversation's count.
#[tokio::test]
async fn a_postgres_database_numbered_across_conversations_is_renumbered_per_conversation() {
    let Some(url) = scratch_postgres("schema").await else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await
        .unwrap();
    for migration in &migrate::POSTGRES[..2] {
        client.batch_execute(migration.sql).await.unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, $3, 0)",
                &[&migration.version, &migration.name, &migration.checksum()],
            )
            .await
            .unwrap();
    }
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for id in [a, b] {
        client
            .execute(
                "INSERT INTO conversations VALUES ($1, 'acme', 'h', 'bot', '{}', NULL, 1, 1)",
                &[&id],
            )
            .await
            .unwrap();
    }
    for (id, text) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (a, "a3")] {
        client
            .execute(
                "INSERT INTO messages (conversation_id, role, text, created_at) VALUES ($1, 'customer', $2, 1)",
                &[&id, &text],
            )
            .await
            .unwrap();
    }
    let b2: i64 = client
        .query_one("SELECT seq FROM messages WHERE text = 'b2'", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO feedback (conversation_id, message_seq, rating, created_at) VALUES ($1, $2, 'up', 1)",
            &[&b, &b2],
        )
        .await
        .unwrap();

    let store = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .unwrap();
    let numbered = |messages: Vec<fathom_conversations::StoredMessage>| -> Vec<(i64, String)> {
        messages.into_iter().map(|m| (m.seq, m.text)).collect()
    };
    let (a, b) = (ConversationId::from(a), ConversationId::from(b));
    assert_eq!(
        numbered(store.messages(a).await.unwrap()),
        [(1, "a1".into()), (2, "a2".into()), (3, "a3".into())]
    );
    assert_eq!(
        numbered(store.messages(b).await.unwrap()),
        [(1, "b1".into()), (2, "b2".into())]
    );
    let feedback = store.feedback(b).await.unwrap();
    assert_eq!(feedback[0].message_seq, Some(2), "b2 is b's second message");
    let next = store
        .apply(
            &WorkspaceId::parse("acme").unwrap(),
            b,
            Change {
                messages: vec![NewMessage::customer("b3")],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(next.messages[0].seq, 3);
}
