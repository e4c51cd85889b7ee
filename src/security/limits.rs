//! Request size limits, answered with the usual JSON errors.
//!
//! - The request target (path and query) beyond `max_uri_bytes`: 414 `uri_too_long`.
//! - A body announced (Content-Length) beyond `max_body_bytes`: 413 `payload_too_large` before
//!   a byte of it is read. A chunked body is cut at the same size by axum's `DefaultBodyLimit`
//!   (installed next to this middleware), which the JSON extractor reports as 413 too.
//! - Request headers: hyper answers 431 on its own when they overflow the 64 KiB connection
//!   buffer (HTTP/1.1) or the 16 KiB header list (HTTP/2), and closes the connection.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::startup::AppState;

pub async fn limit_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.settings.security;
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > limits.max_uri_bytes {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request target is {target} bytes; at most {} are accepted",
                limits.max_uri_bytes
            ),
        )
        .into_response();
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body_bytes) {
        return payload_too_large(limits.max_body_bytes).into_response();
    }
    next.run(request).await
}

pub fn payload_too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {max} bytes"),
    )
}
