//! The gateway's settings: the listener, limits, the outbox worker, and every workspace's keys,
//! secrets and helpdesk endpoint. Read from a TOML file (see `docs/gateway.md`);
//! every value has a default that works on a laptop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fathom_core::WorkspaceId;
use serde::Deserialize;

pub use crate::helpdesk::chatwoot::ChatwootConfig;
pub use crate::helpdesk::django_helpdesk::DjangoHelpdeskConfig;
pub use crate::helpdesk::zendesk::ZendeskConfig;
use crate::signing::WebhookSecret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading gateway config {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("gateway config {path} is invalid: {reason}")]
    Invalid { path: String, reason: String },
}

/// A secret string that never shows in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Timeouts and the cap on open connections.
    #[serde(default)]
    pub connections: ConnectionLimits,
    /// How a client's address is found (behind a reverse proxy, from its header).
    #[serde(default)]
    pub clients: ClientAddresses,
    /// Bounds on the customer attributes a conversation is created with.
    #[serde(default)]
    pub customer_attributes: AttributeLimits,
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// How long graceful shutdown waits for requests and deliveries in flight.
    #[serde(default = "default_shutdown_grace", with = "seconds")]
    pub shutdown_grace: Duration,
    #[serde(default)]
    pub workspaces: BTreeMap<WorkspaceId, WorkspaceConfig>,
}

/// Rate limits. A client (one address, see [`ClientAddresses`]) is limited before its
/// workspace, so that one client cannot use up a workspace's share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Messages a customer token may send per minute.
    pub customer_per_minute: u32,
    /// Requests (all customers, all routes) a workspace may make per second.
    pub workspace_per_second: u32,
    /// Customer API requests one client address may make per second, sustained…
    pub client_per_second: u32,
    /// …and at once after a quiet spell.
    pub client_burst: u32,
    /// Conversations one client address may start per minute (all workspaces).
    pub client_conversations_per_minute: u32,
}

impl RateLimits {
    /// No practical limit: for load generators and benchmarks, where every simulated customer
    /// comes from one address (so the per-client limits would measure the limiter).
    pub fn unlimited() -> Self {
        Self {
            customer_per_minute: 1_000_000,
            workspace_per_second: 1_000_000,
            client_per_second: 1_000_000,
            client_burst: 1_000_000,
            client_conversations_per_minute: 1_000_000,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            customer_per_minute: 30,
            workspace_per_second: 1000,
            client_per_second: 10,
            client_burst: 40,
            client_conversations_per_minute: 20,
        }
    }
}

/// How long a connection may take over each step, and how many may be open at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// A client has this long to send a request's headers, counted from when the connection is
    /// ready for that request: opened, or done with the previous response. So an idle HTTP/1.1
    /// keep-alive connection is closed after this long too.
    #[serde(with = "seconds")]
    pub header_read_timeout: Duration,
    /// A request's whole body must arrive within this long of its headers (408 otherwise).
    #[serde(with = "seconds")]
    pub body_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 ones included).
    #[serde(with = "seconds")]
    pub idle_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog until one closes. Lowered at
    /// start-up to what the process's open-file limit leaves room for.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// Where a request's client address comes from: the TCP peer, or, behind a reverse proxy, the
/// header the proxy sets (only when the peer is one of the trusted proxies, so that no client
/// can pick its own address).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientAddresses {
    /// e.g. `x-forwarded-for` (the last address not itself a trusted proxy counts),
    /// `x-real-ip`, `cf-connecting-ip`. Unset: the TCP peer's address.
    pub trusted_proxy_header: Option<String>,
    /// Peers allowed to set that header: addresses or CIDR blocks, e.g. `["10.0.0.0/8",
    /// "127.0.0.1"]`.
    pub trusted_proxies: Vec<String>,
}

/// Bounds on `customer` in `POST /v1/conversations`: they bound what one conversation costs to
/// store (see `docs/gateway.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributeLimits {
    /// Entries in `customer.extra`.
    pub max_extra: usize,
    /// Bytes (UTF-8) of a key of `extra`.
    pub max_key_bytes: usize,
    /// Bytes of a value: `name`, `plan`, `locale` or one of `extra`.
    pub max_value_bytes: usize,
    /// Bytes of all keys and values together.
    pub max_total_bytes: usize,
}

impl Default for AttributeLimits {
    fn default() -> Self {
        Self {
            max_extra: 32,
            max_key_bytes: 64,
            max_value_bytes: 512,
            max_total_bytes: 4096,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Delay before the first retry; doubled on every failure (with jitter).
    #[serde(with = "seconds")]
    pub initial_backoff: Duration,
    #[serde(with = "seconds")]
    pub max_backoff: Duration,
    /// An event still undelivered this long after it was written goes to the dead letters.
    #[serde(with = "seconds")]
    pub give_up_after: Duration,
    /// How long one delivery attempt may take.
    #[serde(with = "seconds")]
    pub request_timeout: Duration,
    /// A claimed event comes back after this long if its delivery never finished (crash).
    #[serde(with = "seconds")]
    pub lease: Duration,
    /// How often the worker looks for due events when nothing wakes it.
    #[serde(with = "seconds")]
    pub poll_interval: Duration,
    pub concurrency: usize,
    /// Delivered events are kept this long (the admin API's outbox view shows them), then
    /// deleted. Pending and dead-lettered events are never deleted.
    #[serde(with = "seconds")]
    pub keep_delivered: Duration,
    /// Inbound delivery ids are remembered this long so a helpdesk's retries apply once. Keep it
    /// longer than any sender retries (Standard Webhooks senders retry for a day or more).
    #[serde(with = "seconds")]
    pub keep_inbound_ids: Duration,
    /// How often the worker deletes what is past those windows.
    #[serde(with = "seconds")]
    pub prune_interval: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            concurrency: 8,
            keep_delivered: Duration::from_secs(7 * 24 * 3600),
            keep_inbound_ids: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// `Authorization: Bearer <key>` for the admin API.
    pub admin_key: Secret,
    /// Where conversation events are delivered (Standard Webhooks).
    #[serde(default)]
    pub webhook: Option<WebhookEndpoint>,
    /// Secret the helpdesk signs inbound events with (`whsec_…`).
    #[serde(default)]
    pub inbound_secret: Option<WebhookSecret>,
    /// Browser origins allowed to call the customer API (CORS), e.g. `https://acme.example`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Help-center folder that `POST /v1/admin/knowledge/sync` ingests.
    #[serde(default)]
    pub knowledge_dir: Option<PathBuf>,
    /// Redact e-mail addresses, phone numbers and the like from transcripts sent to the helpdesk.
    #[serde(default = "yes")]
    pub redact_pii_in_webhooks: bool,
    /// Chatwoot Agent Bot: Fathom answers Chatwoot conversations in this account.
    #[serde(default)]
    pub chatwoot: Option<ChatwootConfig>,
    /// django-helpdesk: handoffs become tickets, agents' follow-ups come back to the customer.
    #[serde(default)]
    pub django_helpdesk: Option<DjangoHelpdeskConfig>,
    /// Zendesk Support: handoffs become tickets, agents' public replies come back to the customer.
    #[serde(default)]
    pub zendesk: Option<ZendeskConfig>,
    /// Answer only at or above this confidence in this workspace (0 to 1): the threshold `fathom
    /// eval` reports for the business's own eval set. Unset: the server's `--min-confidence`.
    #[serde(default)]
    pub min_confidence: Option<f32>,
}

impl WorkspaceConfig {
    /// Whether `conversation.*` events are written to the outbox: a helpdesk takes them (a
    /// Standard Webhooks endpoint, django-helpdesk, Zendesk).
    pub fn sends_events(&self) -> bool {
        crate::helpdesk::conversation_events_sink(self).is_some()
    }

    /// A workspace with an admin key and nothing else configured.
    pub fn new(admin_key: impl Into<String>) -> Self {
        Self {
            admin_key: Secret::new(admin_key),
            webhook: None,
            inbound_secret: None,
            allowed_origins: vec![],
            knowledge_dir: None,
            redact_pii_in_webhooks: true,
            chatwoot: None,
            django_helpdesk: None,
            zendesk: None,
            min_confidence: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    pub url: String,
    /// The current secret first, then older ones still accepted while the receiver rotates:
    /// every request carries one signature per secret.
    pub secrets: Vec<WebhookSecret>,
}

fn yes() -> bool {
    true
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_max_body_bytes() -> usize {
    64 * 1024
}

fn default_shutdown_grace() -> Duration {
    Duration::from_secs(10)
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            addr: default_addr(),
            max_body_bytes: default_max_body_bytes(),
            rate_limits: RateLimits::default(),
            connections: ConnectionLimits::default(),
            clients: ClientAddresses::default(),
            customer_attributes: AttributeLimits::default(),
            outbox: OutboxConfig::default(),
            shutdown_grace: default_shutdown_grace(),
            workspaces: BTreeMap::new(),
        }
    }
}

impl GatewayConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|reason| ConfigError::Invalid {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        let mut keys = std::collections::BTreeSet::new();
        for (workspace, settings) in &self.workspaces {
            if settings.admin_key.expose().len() < 16 {
                return Err(format!(
                    "workspace {workspace}: admin_key must be at least 16 characters"
                ));
            }
            if !keys.insert(settings.admin_key.expose()) {
                return Err(format!(
                    "workspace {workspace}: admin_key is shared with another workspace"
                ));
            }
            if let Some(min) = settings.min_confidence {
                if !(0.0..=1.0).contains(&min) {
                    return Err(format!(
                        "workspace {workspace}: min_confidence must be between 0 and 1, got {min}"
                    ));
                }
            }
            if let Some(webhook) = &settings.webhook {
                if !(webhook.url.starts_with("http://") || webhook.url.starts_with("https://")) {
                    return Err(format!(
                        "workspace {workspace}: webhook url {:?} must start with http:// or https://",
                        webhook.url
                    ));
                }
                if webhook.secrets.is_empty() {
                    return Err(format!(
                        "workspace {workspace}: webhook needs at least one secret"
                    ));
                }
            }
        }
        self.validate_helpdesks()?;
        if self.outbox.concurrency == 0 {
            return Err("outbox.concurrency must be at least 1".into());
        }
        if self.connections.max_connections == 0 {
            return Err("connections.max_connections must be at least 1".into());
        }
        for (name, timeout) in [
            ("header_read_timeout", self.connections.header_read_timeout),
            ("body_read_timeout", self.connections.body_read_timeout),
            ("idle_timeout", self.connections.idle_timeout),
        ] {
            if timeout.is_zero() {
                return Err(format!("connections.{name} must be more than 0 seconds"));
            }
        }
        self.clients.trusted_proxies()?;
        if let Some(header) = &self.clients.trusted_proxy_header {
            http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                format!("clients.trusted_proxy_header {header:?} is not a header name")
            })?;
            if self.clients.trusted_proxies.is_empty() {
                return Err(
                    "clients.trusted_proxy_header needs clients.trusted_proxies: the peers allowed to set it".into(),
                );
            }
        }
        Ok(())
    }
}

impl ClientAddresses {
    /// The trusted proxies, parsed: an address is a block of one.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!(
                            "clients.trusted_proxies: {entry:?} is not an address or CIDR block"
                        )
                    })
            })
            .collect()
    }
}

impl GatewayConfig {
    /// Each workspace's helpdesks are valid, at most one of them takes the `conversation.*`
    /// events, and no credential or inbox answers for two workspaces.
    fn validate_helpdesks(&self) -> Result<(), String> {
        // (Chatwoot URL, account) → the workspaces answering it, each with its inboxes.
        type Sharing<'a> = Vec<(&'a WorkspaceId, &'a [u64])>;
        let mut chatwoot_inboxes: BTreeMap<(&str, u64), Sharing<'_>> = BTreeMap::new();
        let mut tokens = std::collections::BTreeSet::new();
        for (workspace, settings) in &self.workspaces {
            let sinks: Vec<&str> = crate::helpdesk::HELPDESKS
                .iter()
                .filter(|h| h.takes_conversation_events() && h.configured(settings))
                .map(|h| h.name())
                .collect();
            if sinks.len() > 1 {
                return Err(format!(
                    "workspace {workspace}: {} all take the conversation events; configure one",
                    sinks.join(", ")
                ));
            }
            if let Some(helpdesk) = &settings.django_helpdesk {
                helpdesk
                    .validate()
                    .map_err(|e| format!("workspace {workspace}: {e}"))?;
                if !tokens.insert(helpdesk.webhook_token.expose()) {
                    return Err(format!(
                        "workspace {workspace}: django_helpdesk.webhook_token is shared with another workspace"
                    ));
                }
            }
            if let Some(zendesk) = &settings.zendesk {
                zendesk
                    .validate()
                    .map_err(|e| format!("workspace {workspace}: {e}"))?;
                if !tokens.insert(zendesk.webhook_secret.expose()) {
                    return Err(format!(
                        "workspace {workspace}: zendesk.webhook_secret is shared with another workspace"
                    ));
                }
            }
            if let Some(chatwoot) = &settings.chatwoot {
                chatwoot
                    .validate()
                    .map_err(|e| format!("workspace {workspace}: {e}"))?;
                chatwoot_inboxes
                    .entry((chatwoot.base_url.trim_end_matches('/'), chatwoot.account_id))
                    .or_default()
                    .push((workspace, chatwoot.inbox_ids.as_slice()));
            }
        }
        for ((_, account), sharing) in chatwoot_inboxes {
            for (i, (first, first_inboxes)) in sharing.iter().enumerate() {
                for (second, second_inboxes) in &sharing[i + 1..] {
                    let overlap = first_inboxes.is_empty()
                        || second_inboxes.is_empty()
                        || first_inboxes
                            .iter()
                            .any(|inbox| second_inboxes.contains(inbox));
                    if overlap {
                        return Err(format!(
                            "workspaces {first} and {second} both answer inboxes of Chatwoot account {account}; give each its own chatwoot.inbox_ids"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Durations as (fractional) seconds in the file: `initial_backoff = 0.5`.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let config = GatewayConfig::from_toml(
            r#"
            [workspaces.acme]
            admin_key = "acme-admin-key-0123456789"
            inbound_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

            [workspaces.acme.webhook]
            url = "https://helpdesk.example/hooks"
            secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
            "#,
        )
        .unwrap();
        let acme = &config.workspaces[&WorkspaceId::parse("acme").unwrap()];
        assert!(acme.redact_pii_in_webhooks);
        assert_eq!(config.addr.port(), 8080);
        assert_eq!(config.outbox.give_up_after, Duration::from_secs(86_400));
        assert_eq!(
            config.outbox.keep_delivered,
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            config.outbox.keep_inbound_ids,
            Duration::from_secs(7 * 86_400)
        );
        assert!(
            !format!("{acme:?}").contains("acme-admin-key"),
            "secrets never print"
        );
    }

    #[test]
    fn a_django_helpdesk_needs_one_kind_of_credentials_a_long_token_and_no_webhook_beside_it() {
        let workspace = |helpdesk: &str| {
            format!(
                "[workspaces.acme]\nadmin_key = \"acme-admin-key-0123456789\"\n\n[workspaces.acme.django_helpdesk]\nbase_url = \"http://127.0.0.1:8000/helpdesk\"\nqueue_id = 1\n{helpdesk}"
            )
        };
        let token = "webhook_token = \"0123456789abcdef01234567\"\n";
        let config =
            GatewayConfig::from_toml(&workspace(&format!("api_token = \"t0k3n\"\n{token}")))
                .unwrap();
        let acme = &config.workspaces[&WorkspaceId::parse("acme").unwrap()];
        let helpdesk = acme.django_helpdesk.as_ref().unwrap();
        assert_eq!((helpdesk.queue_id, helpdesk.priority), (1, 3));
        assert!(acme.sends_events());
        assert!(!format!("{helpdesk:?}").contains("0123456789abcdef"));
        assert!(GatewayConfig::from_toml(&workspace(&format!(
            "username = \"fathom\"\npassword = \"pw\"\n{token}"
        )))
        .is_ok());
        for bad in [
            workspace(token),
            workspace(&format!("username = \"fathom\"\n{token}")),
            workspace(&format!(
                "api_token = \"t\"\nusername = \"fathom\"\npassword = \"pw\"\n{token}"
            )),
            workspace("api_token = \"t\"\nwebhook_token = \"short\"\n"),
            workspace(&format!("api_token = \"t\"\npriority = 9\n{token}")),
            format!(
                "{}\n[workspaces.acme.webhook]\nurl = \"https://h.example\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n",
                workspace(&format!("api_token = \"t\"\n{token}"))
            ),
        ] {
            assert!(GatewayConfig::from_toml(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_or_shared_admin_keys_and_unknown_fields_are_refused() {
        for bad in [
            "[workspaces.acme]\nadmin_key = \"short\"",
            "[workspaces.a]\nadmin_key = \"same-key-0123456789\"\n[workspaces.b]\nadmin_key = \"same-key-0123456789\"",
            "[workspaces.acme]\nadmin_key = \"acme-admin-key-0123456789\"\ncolour = \"red\"",
            "[workspaces.Acme]\nadmin_key = \"acme-admin-key-0123456789\"",
        ] {
            assert!(GatewayConfig::from_toml(bad).is_err(), "{bad}");
        }
    }
}
