//! The HLS proxy: verify a signed URL → fetch upstream with its headers → rewrite a playlist
//! or stream anything else through. `relay` runs these phases in order.

pub mod budget;
pub mod client;
pub mod edge;
pub mod json;
pub mod playlist;
pub mod query;
pub mod range;
pub mod relay;
pub mod segment;
pub mod sniff;
pub mod streamed;
pub mod token;
pub mod upstream;

use std::sync::Arc;

use axum::http::StatusCode;

use crate::upstream::body::ReadError;
use crate::upstream::guard::GuardError;
use budget::BudgetFull;
use client::{BodyError, FillError, SendError};
use token::TokenError;

/// Everything that can go wrong in a proxy request, each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the proxy may not reach this destination: {0}")]
    Destination(#[from] GuardError),
    #[error("the upstream redirected more than {0} times")]
    TooManyRedirects(u8),
    #[error("the upstream did not answer in time")]
    Timeout,
    #[error("the upstream could not be reached")]
    Unreachable(#[source] SendError),
    #[error("too many requests are in flight to this upstream host")]
    Busy(#[source] SendError),
    #[error("too many playlists are being rewritten at once")]
    RewriteBusy(#[from] BudgetFull),
    #[error("the upstream answered in a content encoding the proxy did not ask for")]
    Encoding,
    #[error("the upstream answered {0}")]
    Status(u16),
    #[error("the upstream playlist or JSON document is larger than {0} bytes")]
    PlaylistTooLarge(u64),
    #[error(transparent)]
    Rewrite(#[from] playlist::RewriteError),
    #[error("the upstream document is not valid JSON")]
    InvalidJson(#[source] serde_json::Error),
    #[error("the upstream body was cut off")]
    Body(#[source] BodyError),
    /// A fetch shared with other viewers failed: each of them gets its error.
    #[error(transparent)]
    Shared(Arc<ProxyError>),
    #[error("the upstream subtitle file cannot be read as WebVTT, SRT or ASS")]
    Subtitle(#[from] crate::library::subtitles::NoCues),
}

impl ProxyError {
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::Token(e) => e.code(),
            ProxyError::Destination(_) => "destination_not_allowed",
            ProxyError::TooManyRedirects(_) => "too_many_redirects",
            ProxyError::Timeout => "upstream_timeout",
            ProxyError::Unreachable(_) => "upstream_unreachable",
            ProxyError::Busy(_) | ProxyError::RewriteBusy(_) => "upstream_busy",
            ProxyError::Encoding => "upstream_encoding_unsupported",
            ProxyError::Status(403) => "upstream_forbidden",
            ProxyError::Status(404) => "upstream_not_found",
            ProxyError::Status(410) => "upstream_gone",
            ProxyError::Status(_) => "upstream_error",
            ProxyError::PlaylistTooLarge(_) | ProxyError::Rewrite(_) => "playlist_too_large",
            ProxyError::InvalidJson(_) => "upstream_invalid_json",
            ProxyError::Body(_) => "upstream_body_error",
            ProxyError::Subtitle(_) => "upstream_subtitle_unreadable",
            ProxyError::Shared(e) => e.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Shared(e) => e.status(),
            ProxyError::Token(_) | ProxyError::Destination(_) => StatusCode::FORBIDDEN,
            // The player switches source on these, so they keep their meaning.
            ProxyError::Status(s @ (403 | 404 | 410)) => {
                StatusCode::from_u16(*s).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ProxyError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Busy(_) | ProxyError::RewriteBusy(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// A document's bounded read (`proxy::relay`): each failure keeps its code.
impl From<ReadError<BodyError, BudgetFull>> for ProxyError {
    fn from(e: ReadError<BodyError, BudgetFull>) -> Self {
        match e {
            ReadError::TooLarge(max) => ProxyError::PlaylistTooLarge(max),
            ReadError::Timeout | ReadError::Source(BodyError::Shared(FillError::Stalled)) => {
                ProxyError::Timeout
            }
            ReadError::Source(e) => ProxyError::Body(e),
            ReadError::Allowance(e) => ProxyError::RewriteBusy(e),
        }
    }
}
