//! TLS to Postgres the way libpq users know it, from the URL's `sslmode` and `sslrootcert`:
//!
//! | `sslmode`            | TLS                                   | the server's certificate            |
//! | -------------------- | ------------------------------------- | ----------------------------------- |
//! | `disable`            | never                                 | —                                   |
//! | `prefer` (default)   | if the server offers it, else plain   | not checked                         |
//! | `require`            | always                                | not checked, unless `sslrootcert`   |
//! | `verify-ca`          | always                                | signed by a trusted root            |
//! | `verify-full`        | always                                | signed by a trusted root, and names the host |
//!
//! The trusted roots are the PEM certificates in `sslrootcert=<path>`, or the system's roots
//! when it is absent or `system`. As in libpq, `require` with a root file verifies like
//! `verify-ca`, `sslrootcert=system` makes the default `verify-full` and refuses a weaker mode,
//! and `allow` (plain first in libpq) is taken as `prefer`. Over a Unix socket there is no TLS.
//!
//! The TLS stream itself is `tokio-postgres-rustls` (with its SCRAM channel binding) on the
//! rustls already in the build; this module only turns the URL into its `ClientConfig`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// How much TLS a connection insists on (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = PostgresTlsError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(PostgresTlsError::UnknownSslMode {
                    value: other.to_string(),
                })
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        })
    }
}

/// A TLS setting of the Postgres URL that cannot be used, or a server certificate it rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostgresTlsError {
    #[error(
        "unknown sslmode {value:?} in the postgres url: use disable, prefer, require, verify-ca \
         or verify-full"
    )]
    UnknownSslMode { value: String },
    #[error(
        "sslmode={mode} is too weak with sslrootcert=system: use sslmode=verify-full, or leave \
         sslmode out"
    )]
    WeakSslModeForSystemRoots { mode: String },
    #[error("sslrootcert {path} cannot be read: {reason}")]
    RootCertUnreadable { path: PathBuf, reason: String },
    #[error("sslrootcert {path} holds no usable PEM certificate: {reason}")]
    RootCertInvalid { path: PathBuf, reason: String },
    #[error(
        "sslmode={mode} needs trusted root certificates and the system has none ({reason}): \
         name a file with sslrootcert=<path>"
    )]
    NoSystemRoots { mode: String, reason: String },
    #[error("the postgres server at {target} presented a certificate that sslmode={mode} rejects: {reason}")]
    CertificateRejected {
        target: String,
        mode: String,
        reason: String,
    },
}

impl PostgresTlsError {
    /// A stable, machine-readable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSslMode { .. } => "postgres_sslmode_unknown",
            Self::WeakSslModeForSystemRoots { .. } => "postgres_sslmode_too_weak",
            Self::RootCertUnreadable { .. } => "postgres_sslrootcert_unreadable",
            Self::RootCertInvalid { .. } => "postgres_sslrootcert_invalid",
            Self::NoSystemRoots { .. } => "postgres_system_roots_missing",
            Self::CertificateRejected { .. } => "postgres_certificate_rejected",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RootCert {
    File(PathBuf),
    System,
}

/// A Postgres URL read for connecting: tokio-postgres' config (with its `sslmode` set from ours)
/// and the TLS connector that applies our certificate checks.
#[derive(Clone)]
pub(crate) struct PostgresConnect {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) mode: SslMode,
}

impl fmt::Debug for PostgresConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnect")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl PostgresConnect {
    /// Read `url` (`postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`). Reads
    /// the root certificates from disk: call it where blocking is fine.
    pub(crate) fn from_url(url: &str) -> Result<Self, StoreError> {
        let (rest, mode, root_cert) = take_tls_parameters(url)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| StoreError::Open {
            path: "the postgres url".into(),
            reason: format!("not a valid postgres url: {e}"),
        })?;
        let mode = match (mode, &root_cert) {
            (None, Some(RootCert::System)) => SslMode::VerifyFull,
            (Some(mode), Some(RootCert::System)) if mode != SslMode::VerifyFull => {
                return Err(PostgresTlsError::WeakSslModeForSystemRoots {
                    mode: mode.to_string(),
                }
                .into())
            }
            (Some(SslMode::Require), Some(RootCert::File(_))) => SslMode::VerifyCa,
            (mode, _) => mode.unwrap_or(SslMode::Prefer),
        };
        let only_unix_sockets = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|host| !matches!(host, Host::Tcp(_)));
        config.ssl_mode(match mode {
            _ if only_unix_sockets => tokio_postgres::config::SslMode::Disable,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let check = match mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Check::Nothing,
            SslMode::VerifyCa | SslMode::VerifyFull if only_unix_sockets => Check::Nothing,
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = match root_cert {
                    Some(RootCert::File(path)) => roots_from_file(&path)?,
                    None | Some(RootCert::System) => system_roots(mode)?,
                };
                Check::Roots {
                    roots: Arc::new(roots),
                    host_name: mode == SslMode::VerifyFull,
                }
            }
        };
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(client_config(check)),
            mode,
        })
    }

    /// The error for a failed connection: [`PostgresTlsError::CertificateRejected`] when our
    /// checks refused the server's certificate, `None` otherwise.
    pub(crate) fn rejected(
        &self,
        target: &str,
        error: &tokio_postgres::Error,
    ) -> Option<PostgresTlsError> {
        let rejection = rustls_error(error)?;
        matches!(rejection, rustls::Error::InvalidCertificate(_)).then(|| {
            PostgresTlsError::CertificateRejected {
                target: target.to_string(),
                mode: self.mode.to_string(),
                reason: rejection.to_string(),
            }
        })
    }
}

/// `url` without `sslmode` and `sslrootcert` (which tokio-postgres does not know, or not all
/// values of), and their values.
fn take_tls_parameters(
    url: &str,
) -> Result<(String, Option<SslMode>, Option<RootCert>), PostgresTlsError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, None));
    };
    let mut mode = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value).decode_utf8_lossy();
        match &*percent_decode_str(key).decode_utf8_lossy() {
            "sslmode" => mode = Some(value.parse()?),
            "sslrootcert" if value == "system" => root_cert = Some(RootCert::System),
            "sslrootcert" => root_cert = Some(RootCert::File(PathBuf::from(&*value))),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root_cert))
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, PostgresTlsError> {
    let pem = std::fs::read(path).map_err(|e| PostgresTlsError::RootCertUnreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let invalid = |reason: String| PostgresTlsError::RootCertInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no CERTIFICATE block in it".into()));
    }
    Ok(roots)
}

fn system_roots(mode: SslMode) -> Result<RootCertStore, PostgresTlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let reason = match found.errors.first() {
            Some(error) => error.to_string(),
            None => "no certificate found".into(),
        };
        return Err(PostgresTlsError::NoSystemRoots {
            mode: mode.to_string(),
            reason,
        });
    }
    Ok(roots)
}

/// What to check of the server's certificate.
#[derive(Debug)]
enum Check {
    /// Nothing (libpq's `prefer` and `require` without a root file): the connection is encrypted
    /// but the server unauthenticated. The handshake's own signatures are still checked.
    Nothing,
    /// A chain to one of `roots`, and with `host_name` that it names the host we dialled.
    Roots {
        roots: Arc<RootCertStore>,
        host_name: bool,
    },
}

fn client_config(check: Check) -> ClientConfig {
    // Explicit provider: the build has both ring and aws-lc-rs enabled in rustls (through
    // different dependents), so rustls cannot pick a process default by itself.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PostgresCertVerifier {
        check,
        provider: provider.clone(),
    });
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// libpq's certificate checks with rustls' own primitives (the chain and name checks of its
/// `WebPkiServerVerifier`, which has no mode for verify-ca or for no check at all).
#[derive(Debug)]
struct PostgresCertVerifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PostgresCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Check::Roots { roots, host_name } = &self.check else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if *host_name {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls error behind a failed connection (tokio-rustls wraps it in an `io::Error`, whose
/// `source()` skips it, so each level is also looked into).
fn rustls_error(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if wrapped.is_some() {
            return wrapped;
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(url: &str) -> PostgresTlsError {
        match PostgresConnect::from_url(url) {
            Err(StoreError::Tls(error)) => error,
            other => panic!("expected a tls error for {url}, got {other:?}"),
        }
    }

    #[test]
    fn the_url_without_sslmode_prefers_tls() {
        let connect = PostgresConnect::from_url("postgres://u@db:5432/fathom").unwrap();
        assert_eq!(connect.mode, SslMode::Prefer);
        assert_eq!(
            connect.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
    }

    #[test]
    fn each_libpq_sslmode_maps_to_what_tokio_postgres_negotiates() {
        use tokio_postgres::config::SslMode as Wire;
        for (value, mode, wire) in [
            ("disable", SslMode::Disable, Wire::Disable),
            ("allow", SslMode::Prefer, Wire::Prefer),
            ("prefer", SslMode::Prefer, Wire::Prefer),
            ("require", SslMode::Require, Wire::Require),
        ] {
            let connect =
                PostgresConnect::from_url(&format!("postgres://u@db/fathom?sslmode={value}"))
                    .unwrap();
            assert_eq!((connect.mode, connect.config.get_ssl_mode()), (mode, wire));
        }
    }

    #[test]
    fn tls_parameters_are_taken_out_and_the_others_kept() {
        let (rest, mode, root_cert) = take_tls_parameters(
            "postgres://u@db/fathom?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u@db/fathom?connect_timeout=3&application_name=x"
        );
        assert_eq!(mode, Some(SslMode::VerifyFull));
        assert_eq!(root_cert, Some(RootCert::File("/etc/ca.pem".into())));
    }

    #[test]
    fn an_unknown_sslmode_is_refused_with_a_stable_code() {
        let error = error_of("postgres://u@db/fathom?sslmode=verify_full");
        assert_eq!(error.code(), "postgres_sslmode_unknown");
        assert!(error.to_string().contains("\"verify_full\""), "{error}");
    }

    #[test]
    fn an_unreadable_sslrootcert_is_refused_with_a_stable_code() {
        let error =
            error_of("postgres://u@db/fathom?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert_eq!(error.code(), "postgres_sslrootcert_unreadable");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let store_error = StoreError::from(error);
        assert_eq!(store_error.code(), "postgres_sslrootcert_unreadable");
    }

    #[test]
    fn an_sslrootcert_without_a_certificate_is_refused_with_a_stable_code() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a certificate\n").unwrap();
        let url = format!(
            "postgres://u@db/fathom?sslmode=verify-ca&sslrootcert={}",
            file.path().display()
        );
        assert_eq!(error_of(&url).code(), "postgres_sslrootcert_invalid");
    }

    #[test]
    fn system_roots_make_verify_full_the_default_and_refuse_weaker_modes() {
        let error = error_of("postgres://u@db/fathom?sslmode=require&sslrootcert=system");
        assert_eq!(error.code(), "postgres_sslmode_too_weak");
        match PostgresConnect::from_url("postgres://u@db/fathom?sslrootcert=system") {
            Ok(connect) => assert_eq!(connect.mode, SslMode::VerifyFull),
            // A machine without CA certificates says so instead.
            Err(StoreError::Tls(error)) => {
                assert_eq!(error.code(), "postgres_system_roots_missing")
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_unix_socket_never_negotiates_tls() {
        let connect = PostgresConnect::from_url(
            "postgres://u@%2Frun%2Fpostgresql/fathom?sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(
            connect.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
    }
}
