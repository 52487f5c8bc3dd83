//! For tests of this crate and the ones above it: a scratch Postgres database on the server that
//! `FATHOM_TEST_DATABASE_URL` names (scripts/test.sh starts a throwaway cluster and sets it).
//! Without that variable the Postgres tests print that they were skipped.

use crate::postgres::tls::PostgresConnect;

/// The variable naming a Postgres server the tests may create databases on.
pub const DATABASE_URL_VARIABLE: &str = "FATHOM_TEST_DATABASE_URL";

/// The URL of a new, empty database (`fathom_test_<random>`), or `None` after printing why the
/// caller is skipped. Panics if the variable is set but the server cannot be used: a configured
/// server that fails is a failure, not a skip. The URL may carry `sslmode` and `sslrootcert`.
pub async fn scratch_postgres(test: &str) -> Option<String> {
    let Ok(server) = std::env::var(DATABASE_URL_VARIABLE) else {
        println!("{test}: postgres skipped ({DATABASE_URL_VARIABLE} is not set)");
        return None;
    };
    let connect = PostgresConnect::from_url(&server)
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VARIABLE} is not a usable postgres url: {e}"));
    let (client, connection) = connect
        .config
        .connect(connect.tls.clone())
        .await
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VARIABLE}: cannot connect: {e}"));
    let driver = tokio::spawn(connection);
    let name = format!("fathom_test_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("{DATABASE_URL_VARIABLE}: cannot create a database: {e}"));
    drop(client);
    let _ = driver.await;
    Some(with_database(&server, &name))
}

/// `postgres://user@host:port/db?params` with `db` replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, tail) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            super::with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h:5", "x"),
            "postgres://u@h:5/x"
        );
    }
}
