//! Which web pages may use a workspace's customer API. The CORS layer answers preflights for the
//! origins of every workspace (a preflight does not say which workspace it is for); this check
//! narrows that to the workspace a request is about: its own `allowed_origins`, or the gateway's
//! own pages (the demo at `/`). Requests without `Origin` do not come from a browser page (a
//! server, an app, curl) and pass.

use fathom_core::WorkspaceId;
use http::{header, HeaderMap, StatusCode};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Refuse (403 `origin_not_allowed`) a browser request from a page the workspace does not allow.
pub fn ensure_allowed(
    state: &AppState,
    headers: &HeaderMap,
    workspace: &WorkspaceId,
) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let allowed = state
        .workspace(workspace)
        .map_or(&[][..], |w| w.allowed_origins.as_slice());
    if is_allowed(origin, host, allowed) {
        return Ok(());
    }
    tracing::info!(workspace = %workspace, origin, "request from a page the workspace does not allow");
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!(
            "pages from {origin} may not use workspace {workspace}'s chat; add the origin to its allowed_origins"
        ),
    ))
}

/// Same origin as the gateway (`Origin` names the `Host` it was sent to), or a listed origin.
fn is_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let same_origin = host.is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    });
    same_origin
        || allowed
            .iter()
            .any(|listed| listed.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    #[test]
    fn a_page_is_allowed_from_a_listed_origin_or_from_the_gateway_itself_only() {
        let listed = vec![
            "https://acme.example".to_string(),
            "http://localhost:3000/".into(),
        ];
        assert!(is_allowed(
            "https://acme.example",
            Some("chat.acme.example"),
            &listed
        ));
        assert!(is_allowed("http://localhost:3000", None, &listed));
        assert!(is_allowed(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080"),
            &[]
        ));
        for refused in [
            "https://evil.example",
            "http://acme.example",
            "https://acme.example:8443",
            "null",
            "http://127.0.0.1:8081",
        ] {
            assert!(
                !is_allowed(refused, Some("127.0.0.1:8080"), &listed),
                "{refused}"
            );
        }
    }
}
