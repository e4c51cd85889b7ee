//! The one error type of the HTTP edge. Module errors convert into it, here and nowhere else;
//! it renders the contract's `{"error":{"code","message"}}` with a fitting status. A 5xx
//! body never carries internal text: the cause goes into the response extensions, where
//! [`log_errors`] logs it once, with its chain (axum's `examples/error-handling`).

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::library::LibraryError;
use crate::models::RequestError;
use crate::proxy::ProxyError;
use crate::resolve::ResolveError;
use crate::security::media_url::MediaUrlError;
use crate::store::StoreError;
use crate::tmdb::TmdbError;

/// What went wrong inside, kept for the log only.
type Cause = Arc<dyn StdError + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// What the client reads: never internal text.
    pub message: String,
    cause: Option<Cause>,
}

/// The body of every error answer (also the schema the OpenAPI document gives every error).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_tmdb_id", "message": "invalid TMDB id 'abc': expected a positive whole number"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: what a program matches on.
    pub code: &'static str,
    /// A sentence for people; its wording may change.
    pub message: String,
}

/// The message of every `internal` answer: the client can do nothing with the detail.
const INTERNAL: &str = "the server hit an internal error";

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            cause: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// A 500 `internal`: the client gets a fixed sentence, the log gets `cause`.
    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", INTERNAL).caused_by(cause)
    }

    /// A 500 `internal` whose cause is `source` while doing `doing` (both logged, not sent).
    pub fn internal_while<E>(doing: &'static str, source: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        ApiError::internal(While { doing, source })
    }

    pub fn route_not_found() -> Self {
        ApiError::not_found("not_found", "no such route")
    }

    /// Keeps `cause` for the log line of this answer (never for its body).
    pub fn caused_by(mut self, cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.cause = Some(Arc::from(cause.into()));
        self
    }

    /// A module error's own code, status and message, the error kept as the cause. A 500 says
    /// only `public` (the module's text may name files, SQL or tools).
    fn from_module<E>(status: StatusCode, code: &'static str, e: E, public: &str) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            public.to_owned()
        } else {
            e.to_string()
        };
        ApiError::new(status, code, message).caused_by(e)
    }

    /// `status code: cause: its cause…`, each level once (a message that already quotes its
    /// source, as `#[error("database error: {0}")]` does, is not repeated).
    pub fn cause_chain(&self) -> String {
        let mut chain = format!("{} {}", self.status.as_u16(), self.code);
        let mut next: Option<&(dyn StdError + 'static)> = match &self.cause {
            Some(cause) => Some(cause.as_ref()),
            None => {
                let _ = write!(chain, ": {}", self.message);
                None
            }
        };
        let mut previous = String::new();
        while let Some(e) = next {
            let text = e.to_string();
            if !previous.contains(&text) {
                let _ = write!(chain, ": {text}");
            }
            previous = text;
            next = e.source();
        }
        chain
    }
}

/// A cause with what the server was doing when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{doing}")]
struct While<E: StdError + 'static> {
    doing: &'static str,
    #[source]
    source: E,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn StdError + 'static))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        // Errors must never be cached by a browser or a shared cache in front of us.
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// The layer that logs each failed request once: server errors at `warn` with their cause
/// chain, found in the response extensions where [`ApiError::into_response`] left them.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(e) = response.extensions().get::<Arc<ApiError>>()
        && e.status.is_server_error()
    {
        tracing::warn!(
            status = e.status.as_u16(),
            code = e.code,
            error.cause_chain = %e.cause_chain(),
            "request failed"
        );
    }
    response
}

/// Renders a panic caught by `CatchPanicLayer` as the usual JSON error, never as text.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

// Every conversion of a module error into the edge's error, in one place.

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", e.body_text())
    }
}

/// Only a segment that is not UTF-8 once percent-decoded gets here (the routes always hold
/// their segments).
impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::new(e.status(), "invalid_path", e.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        // A chunked body cut by the body limit (`security::limits`).
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_body"
        };
        ApiError::new(e.status(), code, e.body_text())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::from_module(e.status(), e.code(), e, INTERNAL)
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(e: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        let (status, code) = match &e {
            E::InvalidUsername => (StatusCode::BAD_REQUEST, "invalid_username"),
            E::Password(crate::accounts::password::PasswordError::Length) => {
                (StatusCode::BAD_REQUEST, "invalid_password")
            }
            E::NameTaken(_) => (StatusCode::CONFLICT, "username_taken"),
            E::AlreadySetUp => (StatusCode::CONFLICT, "already_set_up"),
            E::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            E::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "account_not_found"),
            E::LastAdmin => (StatusCode::CONFLICT, "last_admin"),
            E::InvalidTokenName => (StatusCode::BAD_REQUEST, "invalid_token_name"),
            E::SessionStore(_) => (StatusCode::SERVICE_UNAVAILABLE, "session_store_unavailable"),
            E::Password(_) | E::Store(_) | E::Task(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::from_module(status, code, e, INTERNAL)
    }
}

impl From<crate::accounts::profiles::ProfileError> for ApiError {
    fn from(e: crate::accounts::profiles::ProfileError) -> Self {
        use crate::accounts::profiles::ProfileError as E;
        let e = match e {
            // The session store's own answer (503 `session_store_unavailable`).
            E::Account(inner) => return ApiError::from(*inner),
            e => e,
        };
        let (status, code) = match &e {
            E::InvalidName => (StatusCode::BAD_REQUEST, "invalid_profile_name"),
            E::InvalidColour => (StatusCode::BAD_REQUEST, "invalid_colour"),
            E::InvalidLanguage => (StatusCode::BAD_REQUEST, "invalid_interface_language"),
            E::InvalidPin => (StatusCode::BAD_REQUEST, "invalid_pin"),
            E::NoSession => (StatusCode::BAD_REQUEST, "no_session"),
            E::NotFound => (StatusCode::NOT_FOUND, "profile_not_found"),
            E::Last => (StatusCode::CONFLICT, "last_profile"),
            E::TooMany => (StatusCode::CONFLICT, "too_many_profiles"),
            E::PinRequired => (StatusCode::FORBIDDEN, "pin_required"),
            E::WrongPin => (StatusCode::FORBIDDEN, "wrong_pin"),
            E::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            E::Store(_) | E::Hash(_) | E::Task(_) | E::Account(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::from_module(status, code, e, INTERNAL)
    }
}

impl From<LibraryError> for ApiError {
    fn from(e: LibraryError) -> Self {
        let public = match &e {
            LibraryError::Package(_) => "packaging the media for the browser failed",
            _ => INTERNAL,
        };
        let (status, code) = (e.status(), e.code());
        match e {
            LibraryError::NotFound { code, message } => ApiError::not_found(code, message),
            // The tool's configured path and the OS error are the operator's business.
            LibraryError::Tool(_) => {
                ApiError::new(status, code, "ffmpeg or ffprobe cannot run on this server")
                    .caused_by(e)
            }
            e => ApiError::from_module(status, code, e, public),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        let status = match e {
            ResolveError::UnknownProvider(_) => StatusCode::BAD_REQUEST,
            ResolveError::ProviderDisabled(_) => StatusCode::NOT_FOUND,
            ResolveError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::from_module(status, e.code(), e, INTERNAL)
    }
}

impl From<TmdbError> for ApiError {
    fn from(e: TmdbError) -> Self {
        ApiError::from_module(e.status(), e.code(), e, INTERNAL)
    }
}

impl From<crate::playback::profile::ProfileError> for ApiError {
    fn from(e: crate::playback::profile::ProfileError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<crate::library::package::BurnError> for ApiError {
    fn from(e: crate::library::package::BurnError) -> Self {
        ApiError::bad_request(e.code(), e.to_string())
    }
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        ApiError::from_module(e.status(), e.code(), e, INTERNAL)
    }
}

impl From<MediaUrlError> for ApiError {
    fn from(e: MediaUrlError) -> Self {
        ApiError::from_module(e.status(), e.code(), e, INTERNAL)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::store::Store;

    /// A store whose progress table is gone: every query of it fails inside SQLite.
    async fn broken_store() -> Store {
        let store = Store::in_memory().unwrap();
        store
            .call(|c| Ok(c.execute_batch("DROP TABLE watch_progress")?))
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_database_failure_is_a_500_without_its_text_logged_once_with_its_cause() {
        let log = tempfile::NamedTempFile::new().unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Arc::new(log.reopen().unwrap()))
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let store = broken_store().await;
        let app = Router::new()
            .route(
                "/",
                get(move || async move {
                    store.recent_progress(1, 50).await.map_err(ApiError::from)?;
                    Ok::<_, ApiError>(())
                }),
            )
            .layer(axum::middleware::from_fn(log_errors));

        let response = app
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "internal", "message": INTERNAL}})
        );
        let log = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(log.matches("request failed").count(), 1, "{log}");
        assert_eq!(
            log.matches("no such table: watch_progress").count(),
            1,
            "{log}"
        );
        assert!(log.contains("500 internal: database error"), "{log}");
    }

    #[test]
    fn a_cause_chain_names_each_level_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer quotes its source: {0}")]
        struct Quoting(#[source] std::io::Error);
        let e = ApiError::internal(Quoting(std::io::Error::other("disk full")));
        assert_eq!(
            e.cause_chain(),
            "500 internal: outer quotes its source: disk full"
        );
        let e = ApiError::internal_while("reading the poster", std::io::Error::other("gone"));
        assert_eq!(e.cause_chain(), "500 internal: reading the poster: gone");
        assert_eq!(e.message, INTERNAL);
        let e = ApiError::bad_request("invalid_body", "not JSON");
        assert_eq!(e.cause_chain(), "400 invalid_body: not JSON");
    }

    #[test]
    fn library_errors_keep_their_codes_and_a_5xx_hides_paths_and_tool_output() {
        let cases = [
            (
                LibraryError::Busy("all 2 ffmpeg slots are busy".into()),
                503,
                "ffmpeg_busy",
                true,
            ),
            (
                LibraryError::Timeout("segment 3 was not ready within 20s".into()),
                504,
                "packaging_timeout",
                true,
            ),
            (
                LibraryError::Probe("/srv/media/a.mkv: not a video".into()),
                422,
                "unreadable_media",
                true,
            ),
            (
                LibraryError::not_found("segment_not_found", "segment 9 has no content"),
                404,
                "segment_not_found",
                true,
            ),
            (
                LibraryError::Tool("cannot run /opt/ff/ffmpeg: No such file".into()),
                503,
                "ffmpeg_unavailable",
                false,
            ),
            (
                LibraryError::Package("/srv/media/a.mkv: Invalid data found".into()),
                500,
                "packaging_failed",
                false,
            ),
            (
                LibraryError::Internal("cannot create /var/lib/sokoul/hls-cache".into()),
                500,
                "internal",
                false,
            ),
        ];
        for (e, status, code, shown) in cases {
            let text = e.to_string();
            let api = ApiError::from(e);
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{text}");
            assert_eq!(api.message == text, shown, "{text} → {}", api.message);
            assert!(api.cause_chain().contains(&text), "the log keeps {text}");
        }
    }
}
