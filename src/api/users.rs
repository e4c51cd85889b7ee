//! `/api/auth/users/**`: the household's accounts, for admins (the auth middleware refuses
//! members with 403 `admin_only`). Passwords are never shown, not even hashed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::responses::Internal;
use crate::accounts::{AccountChange, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;
use crate::store::accounts::AccountRow;

/// An account as admins see it.
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct AccountInfo {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub created_at: OffsetDateTime,
}

impl From<AccountRow> for AccountInfo {
    fn from(a: AccountRow) -> Self {
        AccountInfo {
            username: a.username,
            role: Role::parse(&a.role).unwrap_or(Role::Member),
            disabled: a.disabled,
            created_at: OffsetDateTime::from_unix_timestamp(a.created_at)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        }
    }
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct AccountList {
    pub items: Vec<AccountInfo>,
}

/// A new account.
#[derive(Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct NewAccountRequest {
    pub username: String,
    /// 8 to 256 characters.
    pub password: String,
    pub role: Role,
}

// Never prints the password.
impl std::fmt::Debug for NewAccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccountRequest")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The accounts, oldest first.
#[utoipa::path(
    get,
    path = "/api/auth/users",
    operation_id = "list_accounts",
    responses((status = 200, body = AccountList), Internal)
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<AccountList>, ApiError> {
    let items = state
        .accounts
        .list()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(AccountList { items }))
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/api/auth/users",
    operation_id = "create_account",
    request_body = NewAccountRequest,
    responses(
        (status = 201, body = AccountInfo),
        (status = 400, description = "`invalid_username`, `invalid_password`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        Internal,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewAccountRequest>,
) -> Result<(StatusCode, Json<AccountInfo>), ApiError> {
    state
        .accounts
        .add(&new.username, new.password, new.role)
        .await?;
    let created = state.accounts.find(&new.username).await?;
    tracing::info!(user = %created.username, role = %created.role, "account created");
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Change an account: role, disabled, or a new password (the last two end its sessions).
#[utoipa::path(
    put,
    path = "/api/auth/users/{username}",
    operation_id = "update_account",
    params(("username" = String, Path, description = "The account's name (any case)")),
    request_body = AccountChange,
    responses(
        (status = 200, body = AccountInfo),
        (status = 400, description = "`invalid_password`, `invalid_body`", body = ErrorBody),
        (status = 404, description = "`account_not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`: no enabled admin would be left", body = ErrorBody),
        Internal,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(change): ApiJson<AccountChange>,
) -> Result<Json<AccountInfo>, ApiError> {
    let updated = state.accounts.update(&username, change).await?;
    Ok(Json(updated.into()))
}

/// Delete an account and its sessions.
#[utoipa::path(
    delete,
    path = "/api/auth/users/{username}",
    operation_id = "delete_account",
    params(("username" = String, Path, description = "The account's name (any case)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`account_not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`: no enabled admin would be left", body = ErrorBody),
        Internal,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.remove(&username).await?;
    tracing::info!(user = %username, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
