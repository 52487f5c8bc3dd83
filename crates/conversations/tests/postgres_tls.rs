//! TLS to Postgres as the URL's `sslmode` asks, against a real server: each test makes a
//! certificate authority and a server certificate for `localhost` (rcgen), starts a throwaway
//! cluster with `ssl=on` and that certificate (scripts/postgres.sh), and connects the store with
//! each mode. Skipped, saying so, where Debian's Postgres server binaries are missing
//! (scripts/test-deps.sh installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use fathom_conversations::{PostgresOptions, PostgresStore, StoreError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A certificate authority: its certificate (PEM) and what signs with it.
struct Authority {
    pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    Authority {
        pem: issuer.pem(),
        issuer,
    }
}

/// A Postgres cluster with TLS on, stopped and deleted when dropped.
struct TlsServer {
    port: u16,
    cluster_dir: String,
    /// The authority that signed the server's certificate (`ca.pem`) and another (`other-ca.pem`).
    files: tempfile::TempDir,
}

impl TlsServer {
    /// Start one, or `None` after printing why the caller is skipped.
    fn start(test: &str) -> Option<Self> {
        if !has_postgres_server() {
            println!(
                "skipped: {test}: no Postgres server binaries under /usr/lib/postgresql \
                 (scripts/test-deps.sh installs them)"
            );
            return None;
        }
        let files = tempfile::tempdir().unwrap();
        let ca = authority("fathom test ca");
        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server.signed_by(&server_key, &ca.issuer).unwrap();
        let write = |name: &str, contents: &str| {
            let path = files.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let cert = write("server.crt", &server_cert.pem());
        let key = write("server.key", &server_key.serialize_pem());
        write("ca.pem", &ca.pem);
        write("other-ca.pem", &authority("another ca").pem);

        let output = Command::new("bash")
            .arg(postgres_script())
            .arg("start")
            .env("FATHOM_POSTGRES_SSL_CERT", &cert)
            .env("FATHOM_POSTGRES_SSL_KEY", &key)
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            output.status.success(),
            "scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let exported = |name: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("scripts/postgres.sh printed no {name}: {stdout}"))
                .to_string()
        };
        let url = exported("FATHOM_TEST_DATABASE_URL");
        let cluster_dir = exported("FATHOM_TEST_POSTGRES_DIR");
        let port = url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"));
        Some(Self {
            port,
            cluster_dir,
            files,
        })
    }

    fn root(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    /// The store connected to `host` with the URL's query `query`.
    async fn connect(&self, host: &str, query: &str) -> Result<PostgresStore, StoreError> {
        let url = format!("postgres://postgres@{host}:{}/postgres?{query}", self.port);
        PostgresStore::connect(&url, PostgresOptions::default()).await
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(postgres_script())
            .args(["stop", &self.cluster_dir])
            .status();
    }
}

fn postgres_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

fn has_postgres_server() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .flatten()
            .any(|version| version.path().join("bin/initdb").exists())
    })
}

#[tokio::test]
async fn require_and_prefer_encrypt_the_session_and_disable_does_not() {
    let Some(server) = TlsServer::start("require_and_prefer_encrypt_the_session") else {
        return;
    };
    for (query, encrypted) in [
        ("sslmode=require", true),
        ("sslmode=prefer", true),
        // No sslmode: libpq's default, prefer.
        ("application_name=x", true),
        ("sslmode=disable", false),
    ] {
        let store = server
            .connect("127.0.0.1", query)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(store.encrypted().await.unwrap(), encrypted, "{query}");
        // The store works over it.
        store.count_conversations().await.unwrap();
    }
}

#[tokio::test]
async fn verify_full_connects_when_the_root_signed_the_certificate_and_it_names_the_host() {
    let Some(server) = TlsServer::start("verify_full_connects_with_the_right_root") else {
        return;
    };
    let ca = server.root("ca.pem");
    let store = server
        .connect(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        )
        .await
        .unwrap();
    assert!(store.encrypted().await.unwrap());
    store.count_conversations().await.unwrap();
}

#[tokio::test]
async fn verify_full_fails_with_a_stable_code_when_another_root_signed_the_certificate() {
    let Some(server) = TlsServer::start("verify_full_fails_with_another_root") else {
        return;
    };
    let other = server.root("other-ca.pem");
    let error = server
        .connect(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", other.display()),
        )
        .await
        .expect_err("a certificate from another authority is refused");
    assert_eq!(error.code(), "postgres_certificate_rejected", "{error}");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");

    // verify-ca checks the authority too; require with a root file is verify-ca (as in libpq).
    for mode in ["verify-ca", "require"] {
        let error = server
            .connect(
                "localhost",
                &format!("sslmode={mode}&sslrootcert={}", other.display()),
            )
            .await
            .expect_err("a certificate from another authority is refused");
        assert_eq!(
            error.code(),
            "postgres_certificate_rejected",
            "{mode}: {error}"
        );
    }
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let Some(server) = TlsServer::start("verify_full_checks_the_host_name") else {
        return;
    };
    let ca = server.root("ca.pem");
    // The certificate names `localhost`, not 127.0.0.1.
    let error = server
        .connect(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        )
        .await
        .expect_err("the certificate does not name 127.0.0.1");
    assert_eq!(error.code(), "postgres_certificate_rejected", "{error}");
    assert!(error.to_string().contains("not valid for name"), "{error}");

    let store = server
        .connect(
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        )
        .await
        .unwrap();
    assert!(store.encrypted().await.unwrap());
}
