//! `SOKOUL_API_TOKEN`: every `/api/**` route needs `Authorization: Bearer <token>`, except
//! signed proxy URLs (their signature is the credential) and library media URLs carrying a
//! valid media token (`media_url`), which is how `<img>`, `<video>` and hls.js get through.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::media_url::{self, MediaUrlError};
use crate::config::Secret;
use crate::error::ApiError;
use crate::startup::AppState;

impl From<MediaUrlError> for ApiError {
    fn from(e: MediaUrlError) -> Self {
        ApiError::forbidden(e.code(), e.to_string())
    }
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.settings.api_token else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    // One rule for the middleware and the OpenAPI document's security requirements.
    if !crate::api::openapi::needs_token(path) {
        return next.run(request).await;
    }
    if bearer_matches(&request, token) {
        return next.run(request).await;
    }
    let media_token = media_url::token_in(request.uri().query());
    if let (Some(urls), Some(given)) = (&state.security.media_urls, media_token) {
        return match urls.verify(path, given, state.clock.unix()) {
            Ok(()) => {
                let given = given.to_owned();
                let response = next.run(request).await;
                media_url::carry_into_playlist(response, &given).await
            }
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this server requires 'Authorization: Bearer <SOKOUL_API_TOKEN>'",
    )
    .into_response()
}

/// The scheme is case-insensitive (RFC 9110 §11.1). Both sides are hashed before comparing,
/// and BLAKE3's hash equality is constant-time, so neither the token's bytes nor its length
/// leak through timing.
fn bearer_matches(request: &Request, token: &Secret) -> bool {
    let Some(value) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && blake3::hash(given.trim().as_bytes()) == blake3::hash(token.expose().as_bytes())
}
