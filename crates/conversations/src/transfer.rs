//! Copying a SQLite store into Postgres (`fathom migrate-store`): every table, row by row, with
//! its ids and sequence numbers, in batches. Rows already in Postgres are left as they are, so a
//! copy that stopped half-way is finished by running it again, and a second run copies nothing.
//! Postgres' sequences are moved past the copied numbers at the end, so new messages and events
//! come after the copied ones.

use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use tokio_postgres::types::ToSql;

use crate::{PostgresStore, SqliteStore, StoreError};

/// Rows read from SQLite and written to Postgres per transaction.
const BATCH: i64 = 500;

/// One table's copy.
#[derive(Debug, Clone, Serialize)]
pub struct TableCopy {
    pub table: &'static str,
    /// Rows in the SQLite store.
    pub rows: u64,
    /// Rows written to Postgres by this run (the others were there already).
    pub copied: u64,
}

/// How one column is read from SQLite and written to Postgres.
#[derive(Debug, Clone, Copy)]
enum Column {
    Text(&'static str),
    /// TEXT in SQLite, UUID in Postgres.
    Uuid(&'static str),
    /// TEXT in SQLite, JSONB in Postgres.
    Json(&'static str),
    BigInt(&'static str),
    /// INTEGER in SQLite, INTEGER (32-bit) in Postgres.
    Int(&'static str),
    Real(&'static str),
    /// SQLite's implicit `rowid`, written to this Postgres column (the order it stands for).
    RowId(&'static str),
}

impl Column {
    fn sqlite_name(self) -> &'static str {
        match self {
            Self::RowId(_) => "rowid",
            Self::Text(name)
            | Self::Uuid(name)
            | Self::Json(name)
            | Self::BigInt(name)
            | Self::Int(name)
            | Self::Real(name) => name,
        }
    }

    fn postgres_name(self) -> &'static str {
        match self {
            Self::RowId(name)
            | Self::Text(name)
            | Self::Uuid(name)
            | Self::Json(name)
            | Self::BigInt(name)
            | Self::Int(name)
            | Self::Real(name) => name,
        }
    }

    /// The parameter placeholder: SQLite's text goes through `::uuid` / `::jsonb` casts.
    fn placeholder(self, index: usize) -> String {
        match self {
            Self::Uuid(_) => format!("${index}::text::uuid"),
            Self::Json(_) => format!("${index}::text::jsonb"),
            _ => format!("${index}"),
        }
    }
}

struct Table {
    name: &'static str,
    /// The column batches are read in order of (an integer, unique and increasing).
    key: &'static str,
    columns: &'static [Column],
    /// Identity columns whose sequence must move past the copied values.
    identities: &'static [&'static str],
}

use Column::{BigInt, Int, Json, Real, RowId, Text, Uuid};

/// In dependency order: conversations before what refers to them.
const TABLES: &[Table] = &[
    Table {
        name: "conversations",
        key: "rowid",
        columns: &[
            Uuid("id"),
            Text("workspace"),
            Text("token_hash"),
            Text("state"),
            Json("customer"),
            Text("handoff_reason"),
            BigInt("created_at"),
            BigInt("updated_at"),
        ],
        identities: &[],
    },
    Table {
        name: "messages",
        key: "seq",
        columns: &[
            BigInt("seq"),
            Uuid("conversation_id"),
            BigInt("conversation_seq"),
            Text("role"),
            Text("author"),
            Text("text"),
            Json("decision"),
            Text("reason"),
            Real("confidence"),
            BigInt("created_at"),
        ],
        identities: &["seq"],
    },
    Table {
        name: "feedback",
        key: "id",
        columns: &[
            BigInt("id"),
            Uuid("conversation_id"),
            BigInt("message_seq"),
            Text("rating"),
            Text("comment"),
            BigInt("created_at"),
        ],
        identities: &["id"],
    },
    Table {
        name: "outbox",
        key: "rowid",
        columns: &[
            Text("id"),
            RowId("seq"),
            Text("workspace"),
            Uuid("conversation_id"),
            Text("event_type"),
            Text("payload"),
            Text("status"),
            Int("attempts"),
            BigInt("next_attempt_at"),
            BigInt("created_at"),
            BigInt("delivered_at"),
            Text("last_error"),
        ],
        identities: &["seq"],
    },
    Table {
        name: "inbound_deliveries",
        key: "rowid",
        columns: &[
            Text("workspace"),
            Text("source"),
            Text("delivery_id"),
            BigInt("received_at"),
        ],
        identities: &[],
    },
    Table {
        name: "external_conversations",
        key: "rowid",
        columns: &[
            Text("workspace"),
            Text("source"),
            Text("external_id"),
            Uuid("conversation_id"),
            RowId("linked"),
        ],
        identities: &["linked"],
    },
    Table {
        name: "disabled_endpoints",
        key: "rowid",
        columns: &[
            Text("workspace"),
            Text("url"),
            Text("reason"),
            BigInt("disabled_at"),
        ],
        identities: &[],
    },
];

/// A value read from SQLite, typed for Postgres.
#[derive(Debug)]
enum Cell {
    Text(Option<String>),
    BigInt(Option<i64>),
    Int(Option<i32>),
    Real(Option<f32>),
}

impl Cell {
    fn read(column: Column, value: SqlValue) -> Result<Self, String> {
        let name = column.sqlite_name();
        Ok(match (column, value) {
            (Text(_) | Uuid(_) | Json(_), SqlValue::Null) => Self::Text(None),
            (Text(_) | Uuid(_) | Json(_), SqlValue::Text(text)) => Self::Text(Some(text)),
            (BigInt(_) | RowId(_), SqlValue::Null) => Self::BigInt(None),
            (BigInt(_) | RowId(_), SqlValue::Integer(n)) => Self::BigInt(Some(n)),
            (Int(_), SqlValue::Null) => Self::Int(None),
            (Int(_), SqlValue::Integer(n)) => Self::Int(Some(
                i32::try_from(n).map_err(|_| format!("{name}: {n} is too large"))?,
            )),
            (Real(_), SqlValue::Null) => Self::Real(None),
            (Real(_), SqlValue::Real(x)) => Self::Real(Some(x as f32)),
            (Real(_), SqlValue::Integer(n)) => Self::Real(Some(n as f32)),
            (_, other) => return Err(format!("{name}: unexpected {:?}", other.data_type())),
        })
    }

    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(value) => value,
            Self::BigInt(value) => value,
            Self::Int(value) => value,
            Self::Real(value) => value,
        }
    }
}

/// Copy every row of `from` into `to`; `progress(table, done, total)` is called after each batch.
pub async fn copy_sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<Vec<TableCopy>, StoreError> {
    let mut report = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        report.push(copy_table(from, to, table, progress).await?);
    }
    Ok(report)
}

async fn copy_table(
    from: &SqliteStore,
    to: &PostgresStore,
    table: &'static Table,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<TableCopy, StoreError> {
    const OP: &str = "copy to postgres";
    let total = from.count_rows(table.name).await?;
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        table.name,
        table
            .columns
            .iter()
            .map(|c| c.postgres_name())
            .collect::<Vec<_>>()
            .join(", "),
        table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| c.placeholder(i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut after = i64::MIN;
    let (mut done, mut copied) = (0_u64, 0_u64);
    loop {
        let (rows, last_key) = from.read_batch(table, after).await?;
        if rows.is_empty() {
            break;
        }
        let mut client = to.client(OP).await?;
        let transaction = client
            .transaction()
            .await
            .map_err(crate::postgres::backend(OP))?;
        let statement = transaction
            .prepare_cached(&insert)
            .await
            .map_err(crate::postgres::backend(OP))?;
        for row in &rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Cell::as_param).collect();
            copied += transaction
                .execute(&statement, &params)
                .await
                .map_err(crate::postgres::backend(OP))?;
        }
        transaction
            .commit()
            .await
            .map_err(crate::postgres::backend(OP))?;
        done += rows.len() as u64;
        after = last_key;
        progress(table.name, done, total);
    }
    if !table.identities.is_empty() {
        let client = to.client(OP).await?;
        for column in table.identities {
            // The next number after the largest one present (1 for an empty table).
            client
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{1}'),
                                       COALESCE((SELECT MAX({1}) FROM {0}), 0) + 1, false)",
                        table.name, column
                    ),
                    &[],
                )
                .await
                .map_err(crate::postgres::backend(OP))?;
        }
    }
    Ok(TableCopy {
        table: table.name,
        rows: total,
        copied,
    })
}

impl SqliteStore {
    async fn count_rows(&self, table: &'static str) -> Result<u64, StoreError> {
        const OP: &str = "count rows";
        self.read(OP, move |connection| {
            connection
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get::<_, i64>(0)
                })
                .map(|count| count.max(0) as u64)
                .map_err(super::sqlite::backend(OP))
        })
        .await
    }

    /// Up to [`BATCH`] rows of `table` whose key is above `after`, in key order, and the last key.
    async fn read_batch(
        &self,
        table: &'static Table,
        after: i64,
    ) -> Result<(Vec<Vec<Cell>>, i64), StoreError> {
        const OP: &str = "read rows to copy";
        self.read(OP, move |connection| {
            let columns: Vec<&str> = table.columns.iter().map(|c| c.sqlite_name()).collect();
            let sql = format!(
                "SELECT {key}, {} FROM {} WHERE {key} > ?1 ORDER BY {key} LIMIT ?2",
                columns.join(", "),
                table.name,
                key = table.key
            );
            let mut statement = connection
                .prepare(&sql)
                .map_err(super::sqlite::backend(OP))?;
            let mut rows = statement
                .query(rusqlite::params![after, BATCH])
                .map_err(super::sqlite::backend(OP))?;
            let (mut batch, mut last) = (Vec::new(), after);
            while let Some(row) = rows.next().map_err(super::sqlite::backend(OP))? {
                last = row.get(0).map_err(super::sqlite::backend(OP))?;
                let mut cells = Vec::with_capacity(table.columns.len());
                for (index, column) in table.columns.iter().enumerate() {
                    let value: SqlValue = row.get(index + 1).map_err(super::sqlite::backend(OP))?;
                    cells.push(Cell::read(*column, value).map_err(|reason| {
                        StoreError::Backend {
                            operation: OP,
                            reason: format!("{} row {last}: {reason}", table.name),
                        }
                    })?);
                }
                batch.push(cells);
            }
            Ok((batch, last))
        })
        .await
    }
}
