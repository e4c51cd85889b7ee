//! `/api/auth/**`: the first-run admin, login and logout, and the caller's sessions.
//!
//! The session id travels in the `sokoul_session` cookie only (`HttpOnly`, `SameSite=Lax`,
//! `Secure` over HTTPS): no answer body ever carries it, so no script on the page can read it.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::responses::Internal;
use crate::accounts::{AccountError, Caller, Opened, Role, session};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// A user name and a password.
#[derive(Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct Credentials {
    pub username: String,
    /// 8 to 256 characters.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The logged-in account.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct Me {
    pub username: String,
    pub role: Role,
}

/// What the dashboard shows first.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct AuthState {
    /// No account exists yet: show "Créer le compte administrateur".
    pub setup_needed: bool,
    /// The first-run page must send `Authorization: Bearer <SOKOUL_API_TOKEN>`: the server
    /// has a token and no account yet.
    pub setup_needs_token: bool,
    /// The account of the session this request carries, if it is live.
    #[schema(required)]
    pub user: Option<Me>,
}

/// One open session of the caller's account.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct SessionInfo {
    /// A handle (not the session id, which the server does not keep).
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub last_seen: OffsetDateTime,
    #[schema(required)]
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct SessionList {
    pub items: Vec<SessionInfo>,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct SessionsEnded {
    pub ended: usize,
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether there is an account yet, and who is logged in.
#[utoipa::path(
    get,
    path = "/api/auth/state",
    operation_id = "auth_state",
    responses((status = 200, body = AuthState), Internal)
)]
pub async fn state(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<AuthState>, ApiError> {
    let any = state.accounts.exist().await?;
    let user = match session::from_headers(&headers) {
        Some(id) => state.accounts.session(&id).await?.map(|row| Me {
            username: row.username.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Member),
        }),
        None => None,
    };
    Ok(Json(AuthState {
        setup_needed: !any,
        setup_needs_token: !any && state.settings.api_token.is_some(),
        user,
    }))
}

/// An answer that opens a session: the account in the body, the id in the cookie only.
fn opened(state: &AppState, status: StatusCode, opened: Opened, secure: bool) -> Response {
    let me = Me {
        username: opened.account.username.clone(),
        role: Role::parse(&opened.account.role).unwrap_or(Role::Member),
    };
    let mut response = (status, Json(me)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::SET_COOKIE,
        session::set_cookie(&opened.id, state.accounts.lifetime(), secure),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Create the first admin account (first run), and log it in.
///
/// Only while no account exists (409 `already_set_up` after). A server with
/// `SOKOUL_API_TOKEN` wants it here too (`setup_needs_token` in the state).
#[utoipa::path(
    post,
    path = "/api/auth/setup",
    operation_id = "auth_setup",
    request_body = Credentials,
    responses(
        (status = 201, description = "The admin, logged in (`Set-Cookie: sokoul_session`)", body = Me),
        (status = 400, description = "`invalid_username`, `invalid_password`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`already_set_up`: an account exists", body = ErrorBody),
        Internal,
    )
)]
pub async fn setup(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let secure = state.security.trusted_proxies.is_https(&request);
    let agent = user_agent(request.headers());
    let ApiJson(c) = ApiJson::<Credentials>::from_request(request, &state).await?;
    let session = state.accounts.setup(&c.username, c.password, agent).await?;
    tracing::info!(user = %session.account.username, "first admin account created");
    Ok(opened(&state, StatusCode::CREATED, session, secure))
}

/// Log in: a session cookie for the account.
///
/// A wrong password and an unknown name get the same answer in the same time. Failures are
/// throttled per name and per client: past a few, 429 `too_many_attempts` with `Retry-After`.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    operation_id = "auth_login",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in (`Set-Cookie: sokoul_session`)", body = Me),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; `Retry-After` says when to retry", body = ErrorBody),
        Internal,
    )
)]
pub async fn login(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let client = state.security.trusted_proxies.client_ip(&request);
    let secure = state.security.trusted_proxies.is_https(&request);
    let agent = user_agent(request.headers());
    let ApiJson(c) = ApiJson::<Credentials>::from_request(request, &state).await?;
    match state
        .accounts
        .login(&c.username, c.password, client, agent)
        .await
    {
        Ok(session) => Ok(opened(&state, StatusCode::OK, session, secure)),
        Err(AccountError::TooManyAttempts(wait)) => {
            let mut response = ApiError::from(AccountError::TooManyAttempts(wait)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            Ok(response)
        }
        Err(e @ AccountError::InvalidCredentials) => {
            tracing::warn!(%client, "failed login");
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Log out: ends the session the request carries and clears its cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    operation_id = "auth_logout",
    responses((status = 204, description = "Logged out (or was not logged in)"), Internal)
)]
pub async fn logout(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let secure = state.security.trusted_proxies.is_https(&request);
    if let Some(id) = session::from_headers(request.headers()) {
        state.accounts.end(session::hash(&id)).await?;
    }
    Ok(cleared(StatusCode::NO_CONTENT, (), secure))
}

fn cleared(status: StatusCode, body: impl IntoResponse, secure: bool) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(secure));
    response
}

pub(crate) fn account_of(caller: &Caller) -> Result<i64, ApiError> {
    caller.account.as_ref().map(|a| a.account_id).ok_or_else(|| {
        ApiError::bad_request(
            "no_account",
            "this request is not from a logged-in account (API token, or a server without accounts)",
        )
    })
}

/// The open sessions of the caller's account, most recently used first.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    operation_id = "list_sessions",
    responses(
        (status = 200, body = SessionList),
        (status = 400, description = "`no_account`: not a logged-in request", body = ErrorBody),
        Internal,
    )
)]
pub async fn sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SessionList>, ApiError> {
    let account = account_of(&caller)?;
    let current = caller.account.as_ref().map(|a| a.id_hash);
    let items = state
        .accounts
        .sessions_of(account)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            id: session::handle(&s.id_hash),
            created_at: at(s.created_at),
            last_seen: at(s.last_seen),
            user_agent: s.user_agent,
            current: Some(s.id_hash) == current,
        })
        .collect();
    Ok(Json(SessionList { items }))
}

/// Log out everywhere ("Se déconnecter partout"): every session of the caller's account
/// ends, this one included.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions",
    operation_id = "end_sessions",
    responses(
        (status = 200, description = "How many sessions ended", body = SessionsEnded),
        (status = 400, description = "`no_account`: not a logged-in request", body = ErrorBody),
        Internal,
    )
)]
pub async fn end_sessions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Result<Response, ApiError> {
    let secure = state.security.trusted_proxies.is_https(&request);
    let account = account_of(&caller)?;
    let ended = state.accounts.end_all(account).await?;
    Ok(cleared(
        StatusCode::OK,
        Json(SessionsEnded { ended }),
        secure,
    ))
}
