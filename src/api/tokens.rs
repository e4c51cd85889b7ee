//! `/api/tokens/**`: the caller's personal API tokens, for scripts (`accounts::tokens`). A
//! token is answered once, when it is made; lists show its name and times only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{
    Extension, http::HeaderValue, http::header, response::IntoResponse, response::Response,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::auth::account_of;
use super::extract::ApiJson;
use super::responses::Internal;
use crate::accounts::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;
use crate::store::api_tokens::TokenRow;

/// A token as its account lists it (never the token).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct TokenInfo {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub created_at: OffsetDateTime,
    /// Within a minute; null when never used.
    #[serde(with = "time::serde::rfc3339::option")]
    #[ts(type = "string | null")]
    #[schema(required)]
    pub last_used: Option<OffsetDateTime>,
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl From<TokenRow> for TokenInfo {
    fn from(t: TokenRow) -> Self {
        TokenInfo {
            id: t.id,
            name: t.name,
            created_at: at(t.created_at),
            last_used: t.last_used.map(at),
        }
    }
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct TokenList {
    pub items: Vec<TokenInfo>,
}

/// A new token's name (what it is for).
#[derive(Debug, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct NewToken {
    /// 1 to 64 characters.
    pub name: String,
}

/// A token just made: `token` is shown this once.
#[derive(Serialize, TS, ToSchema)]
#[ts(export)]
pub struct CreatedToken {
    #[serde(flatten)]
    #[ts(flatten)]
    pub info: TokenInfo,
    /// Send it as `Authorization: Bearer <token>`. The server keeps only its SHA-256.
    pub token: String,
}

// Never prints the token.
impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// `{id}` of a token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The token's id (from the list).
    pub id: i64,
}

/// The caller's personal API tokens, oldest first.
#[utoipa::path(
    get,
    path = "/api/tokens",
    operation_id = "list_tokens",
    responses(
        (status = 200, body = TokenList),
        (status = 400, description = "`no_account`: not a logged-in request", body = ErrorBody),
        Internal,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TokenList>, ApiError> {
    let account = account_of(&caller)?;
    let items = state.accounts.tokens(account).await?;
    Ok(Json(TokenList {
        items: items.into_iter().map(TokenInfo::from).collect(),
    }))
}

/// Make a personal API token acting as the caller's account (its role, its first profile).
///
/// The answer is the only time the token is shown.
#[utoipa::path(
    post,
    path = "/api/tokens",
    operation_id = "create_token",
    request_body = NewToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 400, description = "`invalid_token_name`, `no_account`, `invalid_body`", body = ErrorBody),
        Internal,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<Response, ApiError> {
    let account = account_of(&caller)?;
    let (row, token) = state.accounts.create_token(account, &new.name).await?;
    tracing::info!(token = %row.name, "API token created");
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedToken {
            info: row.into(),
            token,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revoke a token: requests carrying it get 401 from now on.
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    operation_id = "delete_token",
    params(TokenPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "`no_account`", body = ErrorBody),
        (status = 404, description = "`token_not_found`: not a token of this account", body = ErrorBody),
        Internal,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<TokenPath>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&caller)?;
    let id = path.map_or(0, |Path(p)| p.id);
    if state.accounts.revoke_token(account, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token_not_found", "no such token"))
    }
}
