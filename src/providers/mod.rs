//! Providers turn a validated [`MediaRequest`] into playable streams. Each one is a small
//! adapter over a protocol its user runs (Consumet, Stremio addons, Jellyfin, local files).

pub mod consumet;
pub mod jellyfin;
pub mod library;
pub mod stremio;

use std::fmt;

use async_trait::async_trait;

use crate::models::{MediaRequest, MediaType, ProviderStreams};

/// Why a provider found nothing usable. `code()` is the stable snake_case code of the
/// resolve outcome; the message is for humans.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The provider answered, but has nothing for this title (cached briefly as "empty").
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The upstream could not be reached (DNS, connection refused, reset).
    #[error("{0}")]
    Unreachable(String),
    /// The upstream answered with something that is not a usable answer.
    #[error("{message}")]
    Upstream { code: &'static str, message: String },
    /// The provider's own time budget ran out before it had an answer.
    #[error("{0}")]
    Timeout(String),
    /// The provider is not configured correctly (credentials, base URL…).
    #[error("{message}")]
    Config { code: &'static str, message: String },
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
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::NotFound { code, .. }
            | ProviderError::Upstream { code, .. }
            | ProviderError::Config { code, .. } => code,
            ProviderError::Unreachable(_) => "upstream_unreachable",
            ProviderError::Timeout(_) => "timeout",
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

    async fn resolve_movie(&self, tmdb_id: u32) -> Result<ProviderStreams, ProviderError>;

    async fn resolve_episode(
        &self,
        tmdb_id: u32,
        season: u32,
        episode: u32,
    ) -> Result<ProviderStreams, ProviderError>;

    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError> {
        match *req {
            MediaRequest::Movie { tmdb_id } => self.resolve_movie(tmdb_id).await,
            MediaRequest::Tv {
                tmdb_id,
                season,
                episode,
            } => self.resolve_episode(tmdb_id, season, episode).await,
        }
    }

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
