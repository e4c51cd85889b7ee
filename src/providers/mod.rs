//! Providers turn a validated [`MediaRequest`] into playable streams. Each one is a small
//! adapter over a protocol its user runs (Consumet, Stremio addons, Jellyfin, local files).

pub mod consumet;
mod container;
pub mod jellyfin;
pub mod library;
pub mod stremio;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::models::{MediaRequest, MediaType, ProviderStreams};
use crate::upstream::json::JsonError;

/// What a provider error wraps, when it wraps one: the transport's [`JsonError`], TMDB's
/// error… Shared, so the error stays `Clone` (provider caches hand out clones of it).
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Why a provider found nothing usable. `code()` is the stable snake_case code of the
/// resolve outcome; the message is for humans; the source, when there is one, is the cause.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered, but has nothing for this title (cached briefly as "empty").
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The upstream could not be reached (DNS, connection refused, reset).
    #[error("{message}")]
    Unreachable {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The upstream answered with something that is not a usable answer.
    #[error("{message}")]
    Upstream {
        code: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The provider's own time budget ran out before it had an answer.
    #[error("{message}")]
    Timeout {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The provider is not configured correctly (credentials, base URL…).
    #[error("{message}")]
    Config {
        code: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl ProviderError {
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ProviderError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn upstream(code: &'static str, message: impl Into<String>) -> Self {
        ProviderError::Upstream {
            code,
            message: message.into(),
            source: None,
        }
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        ProviderError::Unreachable {
            message: message.into(),
            source: None,
        }
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        ProviderError::Timeout {
            message: message.into(),
            source: None,
        }
    }

    pub fn config(code: &'static str, message: impl Into<String>) -> Self {
        ProviderError::Config {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, with `cause` as its source (a `NotFound` has none: nothing failed).
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        match &mut self {
            ProviderError::NotFound { .. } => {}
            ProviderError::Unreachable { source, .. }
            | ProviderError::Upstream { source, .. }
            | ProviderError::Timeout { source, .. }
            | ProviderError::Config { source, .. } => *source = Some(Arc::new(cause)),
        }
        self
    }

    /// A transport failure of the shared client, worded for the provider `who` ("Consumet",
    /// an addon's host); `invalid` is the provider's code for an answer it cannot use.
    pub fn transport(who: &str, invalid: &'static str, e: JsonError) -> Self {
        let error = match &e {
            JsonError::BudgetSpent => Self::timeout(format!("{who}: the time budget is spent")),
            JsonError::Timeout(_) => Self::timeout(format!("{who} did not answer in time")),
            JsonError::Unreachable { cause, .. } => {
                Self::unreachable(format!("cannot reach {who}: {cause}"))
            }
            JsonError::TooLarge { .. } => Self::upstream(invalid, format!("{who}: {e}")),
            JsonError::BodyTimeout(_) => Self::timeout(format!("{who} stopped sending its answer")),
            JsonError::BodyBroken { .. } => Self::unreachable(format!("{who}: {e}")),
            JsonError::NotJson(_) => Self::upstream(
                invalid,
                format!("{who} answered with something that is not JSON"),
            ),
        };
        error.caused_by(e)
    }

    /// The same error with its message passed through `edit` (a prefix, a suffix).
    pub fn map_message(mut self, edit: impl FnOnce(String) -> String) -> Self {
        match &mut self {
            ProviderError::NotFound { message, .. }
            | ProviderError::Unreachable { message, .. }
            | ProviderError::Upstream { message, .. }
            | ProviderError::Timeout { message, .. }
            | ProviderError::Config { message, .. } => *message = edit(std::mem::take(message)),
        }
        self
    }

    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::NotFound { code, .. }
            | ProviderError::Upstream { code, .. }
            | ProviderError::Config { code, .. } => code,
            ProviderError::Unreachable { .. } => "upstream_unreachable",
            ProviderError::Timeout { .. } => "timeout",
        }
    }
}

/// What a provider declares before any I/O, so the resolver can plan whom to ask.
#[derive(Debug, Clone)]
pub struct ProviderManifest {
    pub id: &'static str,
    pub media_types: &'static [MediaType],
}

impl ProviderManifest {
    pub fn supports(&self, req: &MediaRequest) -> bool {
        self.media_types.contains(&req.media_type())
    }
}

/// Health of a provider for `/readyz`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProviderHealth {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn manifest(&self) -> &ProviderManifest;

    /// The streams of a film or an episode, or why there are none.
    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError>;

    /// A cheap reachability check for `/readyz`.
    async fn health(&self) -> ProviderHealth {
        ProviderHealth {
            ok: true,
            message: None,
        }
    }
}

/// The providers Sokoul knows: the one list of their ids (the `{provider}` of
/// `/api/streaming/{provider}/…`, the manifests' ids, the OpenAPI enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderId {
    Consumet,
    Stremio,
    Jellyfin,
    Library,
}

impl ProviderId {
    /// Every provider, in the order the OpenAPI document lists them.
    pub const ALL: [ProviderId; 4] = [
        ProviderId::Consumet,
        ProviderId::Stremio,
        ProviderId::Jellyfin,
        ProviderId::Library,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderId::Consumet => "consumet",
            ProviderId::Stremio => "stremio",
            ProviderId::Jellyfin => "jellyfin",
            ProviderId::Library => "library",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of [`ProviderId::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider '{0}'")]
pub struct UnknownProviderId(pub String);

impl std::str::FromStr for ProviderId {
    type Err = UnknownProviderId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderId::ALL
            .into_iter()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| UnknownProviderId(s.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_id_round_trips_through_its_text() {
        for id in ProviderId::ALL {
            assert_eq!(id.as_str().parse::<ProviderId>(), Ok(id));
            assert_eq!(id.to_string(), id.as_str());
        }
        assert_eq!(
            "Jellyfin".parse::<ProviderId>(),
            Err(UnknownProviderId("Jellyfin".into())),
            "ids are exact"
        );
    }
}
