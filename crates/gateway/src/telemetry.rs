//! Metrics (Prometheus, at `/metrics`) and the per-request middleware that counts requests and
//! times them. Metric names are listed here, in one place.

use std::sync::OnceLock;
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

/// A route label with ids replaced, so the label's cardinality stays small.
pub fn route_label(path: &str, status: u16) -> String {
    if status == 404 {
        return "unmatched".into();
    }
    path.split('/')
        .map(|segment| {
            if uuid::Uuid::parse_str(segment).is_ok() {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let route = route_label(&path, status);
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_LATENCY, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
