//! The error responses every operation of a kind can give, added to the OpenAPI document in one
//! place rather than repeated on each route: 401 where credentials are required, 408/413/415
//! where a body is read, 429 where requests are rate-limited, 400 `invalid_path` where the path
//! has a parameter. Statuses a route already documents keep their own description.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::Modify;

pub struct CommonResponses;

/// The helpdesk webhook reads its body itself (any content type, per adapter).
const WEBHOOK_PATH: &str = "/v1/helpdesk/{adapter}/events";

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_common_responses(path, operation);
            }
        }
    }
}

fn add_common_responses(path: &str, operation: &mut Operation) {
    let authenticated = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let customer_api = path.starts_with("/v1/conversations");
    let mut add = |status: &str, codes: &str| {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(codes).into());
    };
    if path.contains('{') {
        add(
            "400",
            "invalid_path (a path parameter that is not valid UTF-8)",
        );
    }
    if authenticated {
        add(
            "401",
            "missing_authorization, invalid_api_key: no or wrong credentials",
        );
    }
    if operation.request_body.is_some() || path == WEBHOOK_PATH {
        add("408", "body_timeout: the body did not arrive in time");
        add("413", "payload_too_large");
    }
    if operation.request_body.is_some() {
        add("415", "invalid_content_type: the body must be JSON");
    }
    if authenticated || customer_api {
        add("429", "rate_limited, with Retry-After in seconds");
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}
