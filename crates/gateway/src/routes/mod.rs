//! The routes, assembled into one [`router`]: customer chat, helpdesk webhooks, admin, ops.

pub mod admin;
pub mod console;
pub mod customer;
pub mod helpdesk;
pub mod openapi;
pub mod ops;
pub mod origin;
pub mod widget;

use axum::extract::DefaultBodyLimit;
use std::sync::Arc;

use axum::routing::{get, post, MethodRouter};
use axum::Router;
use http::{header, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::openapi::CommonResponses;
use crate::state::AppState;
use crate::telemetry::RouteLabels;

#[derive(OpenApi)]
#[openapi(
    info(title = "Fathom gateway", description = "Customer chat, helpdesk handoff and admin API of Fathom, the self-hosted AI support agent."),
    paths(
        customer::create_conversation,
        customer::post_message,
        customer::get_conversation,
        customer::post_feedback,
        customer::conversation_events,
        helpdesk::inbound_event,
        admin::list_conversations,
        admin::get_conversation,
        admin::stats,
        admin::outbox,
        admin::sync_knowledge,
        console::summary,
        console::questions,
        console::transcript,
        console::eval_reports,
        console::eval_report,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemes, &CommonResponses),
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["customer_token", "admin_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub fn api_doc() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// A router that remembers its route templates, so that metrics can label a request with the
/// template it matched (`/v1/conversations/{id}`), never with the raw path.
#[derive(Default)]
struct Routes {
    router: Router<AppState>,
    templates: Vec<&'static str>,
}

impl Routes {
    fn route(mut self, template: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(template, handler);
        self.templates.push(template);
        self
    }

    fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.templates.extend(other.templates);
        self
    }
}

/// Every route with its layers. Separate from serving so tests can drive it directly.
pub fn router(state: AppState) -> Router {
    let origins: Vec<HeaderValue> = state
        .config
        .workspaces
        .values()
        .flat_map(|w| w.allowed_origins.iter())
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    // Outermost but one, so that preflights of every route (and their 405s) get CORS headers.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER]);
    let mut customer = Routes::default()
        .route("/v1/conversations", post(customer::create_conversation))
        .route("/v1/conversations/{id}", get(customer::get_conversation))
        .route(
            "/v1/conversations/{id}/messages",
            post(customer::post_message),
        )
        .route(
            "/v1/conversations/{id}/feedback",
            post(customer::post_feedback),
        )
        .route(
            "/v1/conversations/{id}/events",
            get(customer::conversation_events),
        );
    // Every customer call counts against its client's limit first.
    customer.router = customer
        .router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::clients::limit_clients,
        ));
    let helpdesk = Routes::default().route(
        "/v1/helpdesk/{adapter}/events",
        post(helpdesk::inbound_event),
    );
    let admin = Routes::default()
        .route("/v1/admin/conversations", get(admin::list_conversations))
        .route("/v1/admin/conversations/{id}", get(admin::get_conversation))
        .route("/v1/admin/stats", get(admin::stats))
        .route("/v1/admin/outbox", get(admin::outbox))
        .route("/v1/admin/knowledge/sync", post(admin::sync_knowledge))
        .route("/v1/admin/console/summary", get(console::summary))
        .route("/v1/admin/console/questions", get(console::questions))
        .route(
            "/v1/admin/console/conversations/{id}",
            get(console::transcript),
        )
        .route("/v1/admin/eval-reports", get(console::eval_reports))
        .route("/v1/admin/eval-reports/{name}", get(console::eval_report))
        .route("/console", get(console::console_page))
        .route("/console/console.js", get(console::console_js))
        .route("/console/console.css", get(console::console_css));
    let ops = Routes::default()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/", get(widget::demo_page))
        .route("/widget.js", get(widget::widget_js));
    let max_body = state.config.max_body_bytes;
    let routes = customer.merge(helpdesk).merge(admin).merge(ops);
    let labels = Arc::new(RouteLabels::new(&routes.templates));
    routes
        .router
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(cors)
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::telemetry::track_requests(Arc::clone(&labels), request, next)
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .with_state(state)
}
