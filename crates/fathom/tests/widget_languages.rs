//! The chat widget in German, Spanish and Chinese in a real headless Chromium: a help center
//! with one article in each language, the real `fathom serve`, and the browser conversations of
//! `e2e/widget-languages.test.mjs`. Screenshots of each conversation stay in
//! `target/e2e-artifacts/widget-conversation-{de,es,zh}.png`.
//!
//! Needs `chromium` and `e2e/node_modules` (`.ci/run` and `scripts/test.sh` install them); without
//! them this test fails and says what to install.

mod common;

use common::{
    assert_browser_test_passed, browser_prerequisites, browser_test_command, free_address,
    free_port, ingest, repo_root, spawn_server, write_gateway_config,
};
use tempfile::TempDir;

const WORKSPACE: &str = "lumen";

const ARTICLES: &[(&str, &str)] = &[
    (
        "passwort.md",
        "---\nid: passwort-zuruecksetzen\ntitle: Passwort zurücksetzen\nlocale: de\n---\n\n# Passwort zurücksetzen\n\nWenn Sie Ihr Passwort vergessen haben, klicken Sie auf der Anmeldeseite auf „Passwort vergessen“. Wir senden Ihnen einen Link zum Zurücksetzen des Passworts per E-Mail. Der Link ist 60 Minuten gültig.\n",
    ),
    (
        "contrasena.md",
        "---\nid: restablecer-contrasena\ntitle: Restablecer la contraseña\nlocale: es\n---\n\n# Restablecer la contraseña\n\nSi olvidaste tu contraseña, haz clic en «Olvidé mi contraseña» en la página de inicio de sesión. Te enviamos por correo un enlace para restablecer la contraseña. El enlace es válido durante 60 minutos.\n",
    ),
    (
        "mima.md",
        "---\nid: chongzhi-mima\ntitle: 重置密码\nlocale: zh\n---\n\n# 重置密码\n\n如果您忘记了密码，请在登录页面点击“忘记密码”。我们会通过电子邮件向您发送重置密码的链接。该链接的有效期为60分钟。\n",
    ),
];

#[test]
fn german_spanish_and_chinese_customers_get_the_widget_and_its_answers_in_their_language() {
    let root = repo_root();
    let chromium = browser_prerequisites(&root, "the widget's language tests");

    // Arrange: one article per language, BM25-only for speed.
    let dir = TempDir::new().unwrap();
    let knowledge = dir.path().join("knowledge");
    std::fs::create_dir_all(&knowledge).unwrap();
    for (name, text) in ARTICLES {
        std::fs::write(knowledge.join(name), text).unwrap();
    }
    let data = dir.path().join("data");
    ingest(&data, WORKSPACE, &knowledge);
    let allowed_port = free_port();
    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[workspaces.{WORKSPACE}]\nadmin_key = \"lumen-admin-key-0123456789\"\nallowed_origins = [\"http://localhost:{allowed_port}\"]\n"
        ),
    );
    let address = free_address();
    let log = dir.path().join("serve.log");
    let server = spawn_server(&data, &config, address, &log);

    // Act
    let artifacts = root.join("target/e2e-artifacts");
    let run = browser_test_command(&root, address, &chromium, &artifacts)
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(root.join("e2e/widget-languages.test.mjs"))
        .env("FATHOM_E2E_WORKSPACE", WORKSPACE)
        .env("FATHOM_E2E_ALLOWED_PORT", allowed_port.to_string())
        .output()
        .expect("node runs");
    drop(server);

    // Assert
    let stdout = assert_browser_test_passed(&run, "widget language tests", &log);
    eprintln!("{stdout}\nscreenshots in {}", artifacts.display());
    for locale in ["de", "es", "zh"] {
        let screenshot = artifacts.join(format!("widget-conversation-{locale}.png"));
        assert!(screenshot.is_file(), "{} saved", screenshot.display());
    }
}
