//! The customer-facing assets, embedded in the binary: the chat widget (`/widget.js`, one
//! `<script>` tag installs it on any page) and a demo product page with the widget (`/`).

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use crate::state::AppState;

pub const WIDGET_JS: &str = include_str!("../../assets/widget.js");
const DEMO_HTML: &str = include_str!("../../assets/demo.html");

/// The widget's URL carries no version, so caches keep it briefly and then revalidate by ETag.
const WIDGET_CACHE_CONTROL: &str = "public, max-age=300, must-revalidate";

static WIDGET_ETAG: LazyLock<String> = LazyLock::new(|| {
    let hash = blake3::hash(WIDGET_JS.as_bytes()).to_hex();
    format!("\"{}\"", &hash[..32])
});

/// `GET /widget.js`: the chat widget, with an ETag so a reload costs a 304.
pub async fn widget_js(headers: HeaderMap) -> Response {
    let etag = WIDGET_ETAG.as_str();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let body = if fresh {
        Body::empty()
    } else {
        Body::from(WIDGET_JS)
    };
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(WIDGET_CACHE_CONTROL),
            ),
            (
                header::ETAG,
                HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"widget\"")),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct DemoQuery {
    workspace: Option<String>,
}

/// `GET /`: a sample product site (the fictional Lumen of `knowledge/`) with the widget, for the
/// workspace named by `?workspace=` or else the first one configured.
pub async fn demo_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let asked = query
        .and_then(|q| serde_urlencoded::from_str::<DemoQuery>(&q).ok())
        .and_then(|q| q.workspace);
    let workspaces = &state.config.workspaces;
    let workspace = asked
        .and_then(|name| workspaces.keys().find(|w| w.as_str() == name))
        .or_else(|| workspaces.keys().next())
        .map(|w| w.as_str())
        .unwrap_or("default");
    // Workspace ids are `a-z 0-9 - _` only, so they go into the attribute as they are.
    let page = DEMO_HTML.replace("{{workspace}}", workspace);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_page_loads_the_widget_for_a_workspace() {
        assert!(DEMO_HTML.contains(
            r#"<script src="/widget.js" data-workspace="{{workspace}}" async></script>"#
        ));
    }

    #[test]
    fn the_widget_never_writes_untrusted_text_as_html() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!WIDGET_JS.contains(forbidden), "widget.js uses {forbidden}");
        }
    }
}
