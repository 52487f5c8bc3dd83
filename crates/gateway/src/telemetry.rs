//! Metrics (Prometheus, at `/metrics`) and the per-request middleware that counts requests and
//! times them. Metric names are listed here, in one place.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "fathom_http_requests_total";
pub const HTTP_LATENCY: &str = "fathom_http_request_duration_seconds";
pub const DECISIONS: &str = "fathom_decisions_total";
pub const HANDOFFS: &str = "fathom_handoffs_total";
pub const WEBHOOK_DELIVERIES: &str = "fathom_webhook_deliveries_total";
pub const WEBHOOK_FAILURES: &str = "fathom_webhook_failures_total";
pub const WEBHOOKS_RECEIVED: &str = "fathom_webhooks_received_total";
/// Connections open now (gauge).
pub const CONNECTIONS_OPEN: &str = "fathom_connections_open";
/// Connections closed, by `reason`: `idle_timeout`, `header_timeout`, `shutdown`, `ended`.
pub const CONNECTIONS_CLOSED: &str = "fathom_connections_closed_total";

/// The process-wide recorder, installed on first use (metrics are global by nature; several
/// gateways in one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets are valid");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (an embedding program's): keep ours private.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The `route` label of a request: the template of the route it matched
/// (`/v1/conversations/{id}`), or `unmatched`. Never the raw path, so that requests to made-up
/// paths cannot add label values (each would be a new series in `/metrics`).
#[derive(Debug)]
pub struct RouteLabels {
    templates: matchit::Router<&'static str>,
}

impl RouteLabels {
    pub const UNMATCHED: &'static str = "unmatched";

    pub fn new(templates: &[&'static str]) -> Self {
        let mut router = matchit::Router::new();
        for template in templates {
            // The same template under several methods is one route; axum has already refused
            // real conflicts when the router was built.
            let _ = router.insert(*template, *template);
        }
        Self { templates: router }
    }

    pub fn route(&self, path: &str) -> &'static str {
        self.templates
            .at(path)
            .map_or(Self::UNMATCHED, |matched| *matched.value)
    }
}

/// The `method` label: one of the standard methods, or `other` for anything else (methods are
/// free-form tokens, so each made-up one would otherwise be a new series).
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

pub async fn track_requests(labels: Arc<RouteLabels>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = labels.route(request.uri().path());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_LATENCY, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_labelled_with_its_route_template_or_unmatched() {
        let labels = RouteLabels::new(&[
            "/v1/conversations",
            "/v1/conversations/{id}",
            "/v1/conversations/{id}/messages",
            "/healthz",
        ]);
        assert_eq!(
            labels.route("/v1/conversations/anything-123"),
            "/v1/conversations/{id}"
        );
        assert_eq!(
            labels.route("/v1/conversations/0190c0de-0000-7000-8000-000000000000/messages"),
            "/v1/conversations/{id}/messages"
        );
        assert_eq!(labels.route("/healthz"), "/healthz");
        for made_up in [
            "/v1/conversations/a/b/c",
            "/wp-login.php",
            "/healthz/x",
            "",
            "//",
        ] {
            assert_eq!(labels.route(made_up), "unmatched", "{made_up}");
        }
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let zztop = http::Method::from_bytes(b"ZZTOP1").unwrap();
        assert_eq!(method_label(&zztop), "other");
        assert_eq!(method_label(&http::Method::GET), "GET");
    }
}
