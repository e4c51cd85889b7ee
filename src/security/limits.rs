//! Request size limits, answered with the usual JSON errors.
//!
//! - The request target (path and query) beyond `max_uri_bytes`: 414 `uri_too_long`.
//! - A body announced (Content-Length) beyond `max_body_bytes`: 413 `payload_too_large` before
//!   a byte of it is read. A chunked body is cut at the same size by axum's `DefaultBodyLimit`
//!   (installed next to this middleware), which the JSON extractor reports as 413 too.
//! - Request headers: hyper answers 431 on its own when they overflow the 64 KiB connection
//!   buffer (HTTP/1.1) or the 16 KiB header list (HTTP/2), and closes the connection.
//! - A body still arriving `body_timeout` after the request started: 408 `request_timeout`
//!   and a closed connection (`limit_body_time`), so a client sending a byte now and then
//!   cannot hold a connection and a handler for minutes. Time, not rate: a 64 KiB body over
//!   30 s is slower than any real client.
//!
//! The deadlines before a request exists (first byte, end of headers) and the connection cap
//! are in the server loop (`startup::Application::run_until_stopped`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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

pub async fn limit_body_time(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // GETs and the proxy's requests have no body: nothing to wrap.
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = Duration::from_secs_f64(state.settings.security.body_timeout);
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(deadline)),
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive within {} s",
            deadline.as_secs_f64()
        ),
    )
    .into_response();
    // The rest of the body may still be on its way: the connection cannot be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once its deadline passes.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new("request body deadline passed"))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
