//! `fathom serve`: the gateway (customer chat API, helpdesk handoff, admin API) on `--addr`,
//! answering with the same engine as `fathom ask` and keeping conversations in SQLite under the
//! data folder, or in a Postgres database that several gateways share (`--database`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use fathom_core::WorkspaceId;
use fathom_gateway::{
    Application, Dependencies, GatewayConfig, Knowledge, WebhookEndpoint, WebhookSecret,
    WorkspaceConfig,
};

use crate::backends::Backends;
use crate::database::DatabaseArgs;
use crate::running::api::LocalApi;
use crate::running::record::{self, RecordGuard, ServerRecord};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: the config file's `addr`, else 127.0.0.1:8080].
    #[arg(long, env = "FATHOM_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Gateway config file (TOML): workspaces with their keys, secrets and helpdesk endpoint,
    /// limits, outbox. See docs/gateway.md.
    #[arg(long, env = "FATHOM_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// A workspace configured by flags (in addition to, or replacing, the file's).
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Admin API key of that workspace (at least 16 characters; never logged).
    #[arg(long, env = "FATHOM_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Helpdesk webhook endpoint for that workspace's conversation events.
    #[arg(long, env = "FATHOM_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Signing secrets (`whsec_…`) for outbound webhooks, current first; comma-separated.
    #[arg(
        long,
        env = "FATHOM_WEBHOOK_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub webhook_secret: Vec<String>,
    /// Secret (`whsec_…`) the helpdesk signs inbound events with.
    #[arg(long, env = "FATHOM_INBOUND_SECRET", hide_env_values = true)]
    pub inbound_secret: Option<String>,
    /// Browser origins allowed to call the customer API (CORS); repeat or comma-separate.
    #[arg(long, env = "FATHOM_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origin: Vec<String>,
    /// Help-center folder that the admin API's knowledge sync ingests.
    #[arg(long, env = "FATHOM_KNOWLEDGE_DIR")]
    pub knowledge_dir: Option<PathBuf>,
    /// The URL the CLI beside this server reaches it at, recorded in <data-dir>/server.json
    /// (default: http://<addr>, loopback for 0.0.0.0). Set it when the CLI runs elsewhere, e.g.
    /// `http://gateway:8080` in another container on the same volume.
    #[arg(long, env = "FATHOM_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<GatewayConfig> {
        let mut config = match &self.config {
            Some(path) => GatewayConfig::from_toml_file(path)?,
            None => GatewayConfig::default(),
        };
        // The flag (or FATHOM_ADDR) over the file, the file over the default.
        if let Some(addr) = self.addr {
            config.addr = addr;
        }
        if let Some(admin_key) = &self.admin_key {
            let mut workspace = WorkspaceConfig::new(admin_key.clone());
            workspace.allowed_origins = self.allowed_origin.clone();
            workspace.knowledge_dir = self.knowledge_dir.clone();
            workspace.inbound_secret = self
                .inbound_secret
                .as_deref()
                .map(WebhookSecret::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--inbound-secret: {e}"))?;
            if let Some(url) = &self.webhook_url {
                let secrets = self
                    .webhook_secret
                    .iter()
                    .map(|s| WebhookSecret::parse(s))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow::anyhow!("--webhook-secret: {e}"))?;
                workspace.webhook = Some(WebhookEndpoint {
                    url: url.clone(),
                    secrets,
                });
            }
            config.workspaces.insert(self.workspace.clone(), workspace);
        }
        anyhow::ensure!(
            !config.workspaces.is_empty(),
            "no workspace configured: pass --config <file> or --admin-key <key>"
        );
        config.validate().map_err(|e| anyhow::anyhow!(e))?;
        Ok(config)
    }
}

pub async fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let backends = Backends::open(settings).await?;
    let thresholds: Vec<_> = config
        .workspaces
        .iter()
        .filter_map(|(workspace, settings)| Some((workspace.clone(), settings.min_confidence?)))
        .collect();
    let engine = Arc::new(
        backends
            .answer_engine(settings)?
            .with_workspace_min_confidence(thresholds),
    );
    let backends = Arc::new(backends);
    let (database, stores) = args.database.open(settings).await?;
    let workspaces: Vec<String> = config.workspaces.keys().map(|w| w.to_string()).collect();
    let addr = config.addr;
    let application = Application::build(
        config,
        Dependencies {
            engine: Arc::clone(&engine),
            stores,
            knowledge: Some(Knowledge {
                backends: backends.sync.clone(),
                data_dir: settings.data_dir.clone(),
            }),
        },
    )
    .await
    .with_context(|| format!("listening on {addr}"))?;
    // The CLI beside this server goes through it (the index admits one process): its API, and
    // where to find it.
    let token = record::new_token();
    let local = LocalApi::new(Arc::clone(&backends), engine, settings.clone(), &token);
    let application = application.merge_routes(local.router());
    let started_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let _record = RecordGuard::write(
        &settings.data_dir,
        &ServerRecord {
            pid: std::process::id(),
            address: application.address(),
            url: args
                .advertise_url
                .clone()
                .unwrap_or_else(|| record::local_url(application.address())),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at_ms,
        },
        &token,
    )?;
    eprintln!(
        "fathom gateway listening on http://{} (workspaces: {}; conversations in {})",
        application.address(),
        workspaces.join(", "),
        database
    );
    application
        .run_until_stopped(fathom_gateway::startup::shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}
