//! `/api/profiles/**`: the caller's profiles ("Qui regarde ?") and the one its session watches
//! as. Progress and languages follow [`Viewer`], the profile of the request.
//!
//! A request with no session (`SOKOUL_API_TOKEN`, a server without accounts) watches as the
//! first profile (the first admin's first, or the profile of a server without accounts) and
//! manages the profiles of that profile's account.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiJson;
use super::responses::Internal;
use crate::accounts::Caller;
use crate::accounts::profiles::{NewProfile, ProfileChange, ProfileError};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;
use crate::store::accounts::SessionRow;
use crate::store::profiles::ProfileRow;

/// Who watches: the profile a request's progress and languages belong to.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub profile: i64,
    /// The browser session, when the request came with one.
    pub session: Option<Arc<SessionRow>>,
    /// What the media tokens handed to this request are bound to (`Security::binding`).
    pub media: Option<crate::security::media_url::Binding>,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = parts.extensions.get::<Caller>();
        let media = state.security.binding(caller);
        let session = caller.and_then(|c| c.account.clone());
        let profile = match &session {
            // Every account has a profile; none means it was deleted a moment ago.
            Some(s) => s.profile_id.ok_or(ProfileError::NotFound)?,
            None => state.store.first_profile().await?,
        };
        Ok(Viewer {
            profile,
            session,
            media,
        })
    }
}

impl Viewer {
    /// The account whose profiles this request manages (`None`: a server without accounts).
    async fn owner(&self, state: &AppState) -> Result<Option<i64>, ApiError> {
        if let Some(s) = &self.session {
            return Ok(Some(s.account_id));
        }
        let first = state.store.profile(self.profile).await?;
        Ok(first.and_then(|p| p.account_id))
    }

    /// The profile a session selected; `None` for requests without a session, which the PIN
    /// rules do not hold back (they hold the server's token or it has no account).
    fn selected(&self) -> Option<i64> {
        self.session.as_ref().map(|_| self.profile)
    }
}

/// A profile as its account sees it (never its PIN, not even hashed).
#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct ProfileInfo {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    /// Selecting it asks for its 4-digit PIN.
    pub has_pin: bool,
    /// The profile this request watches as.
    pub current: bool,
    /// The interface language this profile chose (`fr`, `en`…); absent: the browser's.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

fn info(p: ProfileRow, current: i64) -> ProfileInfo {
    ProfileInfo {
        current: p.id == current,
        has_pin: p.pin_hash.is_some(),
        id: p.id,
        name: p.name,
        colour: p.colour,
        language: p.language,
    }
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct ProfileList {
    /// Oldest first; the first is the account's default.
    pub items: Vec<ProfileInfo>,
}

/// `{id}` of a profile route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProfilePath {
    /// The profile's id.
    pub id: i64,
}

/// A selection: the PIN when the profile has one.
#[derive(Default, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct ProfileSelection {
    #[serde(default)]
    #[ts(optional)]
    pub pin: Option<String>,
}

impl std::fmt::Debug for ProfileSelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileSelection").finish_non_exhaustive()
    }
}

fn path_id(raw: Result<Path<ProfilePath>, axum::extract::rejection::PathRejection>) -> i64 {
    // A path that is not a number names no profile: 404 like an unknown id.
    raw.map_or(0, |Path(p)| p.id)
}

/// The caller's profiles, and which one it watches as.
#[utoipa::path(
    get,
    path = "/api/profiles",
    operation_id = "list_profiles",
    responses((status = 200, body = ProfileList), Internal)
)]
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<ProfileList>, ApiError> {
    let owner = viewer.owner(&state).await?;
    let items = state
        .accounts
        .profiles(owner)
        .await?
        .into_iter()
        .map(|p| info(p, viewer.profile))
        .collect();
    Ok(Json(ProfileList { items }))
}

/// Add a profile to the caller's account (at most 10).
#[utoipa::path(
    post,
    path = "/api/profiles",
    operation_id = "create_profile",
    request_body = NewProfile,
    responses(
        (status = 201, body = ProfileInfo),
        (status = 400, description = "`invalid_profile_name`, `invalid_colour`, `invalid_pin`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`too_many_profiles`", body = ErrorBody),
        Internal,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(new): ApiJson<NewProfile>,
) -> Result<(StatusCode, Json<ProfileInfo>), ApiError> {
    let owner = viewer.owner(&state).await?;
    let row = state.accounts.add_profile(owner, new).await?;
    Ok((StatusCode::CREATED, Json(info(row, viewer.profile))))
}

/// Rename or recolour a profile, set its PIN or remove it (`"pin": ""`).
///
/// A profile with a PIN is changed only from a session that selected it (403 `pin_required`).
#[utoipa::path(
    patch,
    path = "/api/profiles/{id}",
    operation_id = "update_profile",
    params(ProfilePath),
    request_body = ProfileChange,
    responses(
        (status = 200, body = ProfileInfo),
        (status = 400, description = "`invalid_profile_name`, `invalid_colour`, `invalid_pin`, `invalid_interface_language`, `invalid_body`", body = ErrorBody),
        (status = 403, description = "`pin_required`: select the profile first", body = ErrorBody),
        (status = 404, description = "`profile_not_found`: not a profile of this account", body = ErrorBody),
        Internal,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<ProfilePath>, axum::extract::rejection::PathRejection>,
    ApiJson(change): ApiJson<ProfileChange>,
) -> Result<Json<ProfileInfo>, ApiError> {
    let owner = viewer.owner(&state).await?;
    let row = state
        .accounts
        .update_profile(owner, viewer.selected(), path_id(path), change)
        .await?;
    Ok(Json(info(row, viewer.profile)))
}

/// Delete a profile, its progress and its languages; never the account's last profile.
#[utoipa::path(
    delete,
    path = "/api/profiles/{id}",
    operation_id = "delete_profile",
    params(ProfilePath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`pin_required`: select the profile first", body = ErrorBody),
        (status = 404, description = "`profile_not_found`", body = ErrorBody),
        (status = 409, description = "`last_profile`: an account keeps one", body = ErrorBody),
        Internal,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    path: Result<Path<ProfilePath>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let owner = viewer.owner(&state).await?;
    state
        .accounts
        .remove_profile(owner, viewer.selected(), path_id(path))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Watch as this profile from now on (this browser session only), giving its PIN if it has
/// one. Wrong PINs are throttled like logins: 429 `too_many_attempts` with `Retry-After`.
#[utoipa::path(
    post,
    path = "/api/profiles/{id}/select",
    operation_id = "select_profile",
    params(ProfilePath),
    request_body = ProfileSelection,
    responses(
        (status = 200, description = "Selected", body = ProfileInfo),
        (status = 400, description = "`no_session`: an API token has no session to remember it; `invalid_body`", body = ErrorBody),
        (status = 403, description = "`pin_required` (no PIN given), `wrong_pin`", body = ErrorBody),
        (status = 404, description = "`profile_not_found`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; `Retry-After` says when to retry", body = ErrorBody),
        Internal,
    )
)]
pub async fn select(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<ProfilePath>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let client = state.security.trusted_proxies.client_ip(&request);
    let ApiJson(selection) = ApiJson::<ProfileSelection>::from_request(request, &state).await?;
    let session = match caller.account {
        Some(session) if !caller.by_token => session,
        _ => return Err(ProfileError::NoSession.into()),
    };
    match state
        .accounts
        .select_profile(&session, path_id(path), selection.pin, client)
        .await
    {
        Ok(row) => {
            let id = row.id;
            Ok(Json(info(row, id)).into_response())
        }
        Err(ProfileError::TooManyAttempts(wait)) => {
            let mut response = ApiError::from(ProfileError::TooManyAttempts(wait)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            Ok(response)
        }
        Err(e @ ProfileError::WrongPin) => {
            tracing::warn!(%client, "wrong profile PIN");
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}
