//! `GET /api/search`: the header's search field. Library titles as the viewer types, and,
//! with a TMDB key, TMDB's films and series too (through here, so the key never reaches the
//! browser). A TMDB failure never hides the library's results: it comes back beside them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{LanguageParam, MetadataLanguage};
use super::profiles::Viewer;
use super::responses::Internal;
use crate::accounts::Caller;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::library::Item;
use crate::models::MediaType;
use crate::startup::AppState;
use crate::tmdb::SearchHit;

/// TMDB answers a search in well under a second; a viewer typing waits no longer than this.
const TMDB_BUDGET: Duration = Duration::from_secs(4);
/// Longer queries are not titles; TMDB caps its own query far above any real title.
const MAX_QUERY_CHARS: usize = 100;
/// Enough to fill the results panel; the rest is a more precise query away.
const MAX_LIBRARY_HITS: usize = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words typed: 1 to 100 characters after trimming. Accents and case are ignored
    /// for the library ("amelie" finds "Amélie").
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Library titles whose title contains every word of the query, by title.
    pub library: Vec<Item>,
    /// TMDB's films and series for the query (TMDB's order), each with whether the library
    /// holds it. Empty without a TMDB key (`tmdb_available` says why).
    pub tmdb: Vec<TmdbHit>,
    /// Whether this server has a TMDB key (`SOKOUL_TMDB_KEY`).
    pub tmdb_available: bool,
    /// Why TMDB's results are missing this time (`tmdb_timeout`, `tmdb_unauthorized`, …).
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmdb_error: Option<ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TmdbHit {
    #[serde(flatten)]
    pub hit: SearchHit,
    pub in_library: bool,
}

/// Search the library and TMDB.
#[utoipa::path(
    get,
    path = "/api/search",
    operation_id = "search",
    params(SearchQuery, LanguageParam),
    responses(
        (status = 200, description = "Library and TMDB results", body = SearchResults),
        (status = 400, description = "`invalid_search`: an empty query or one over 100 characters; \
            `invalid_query`: not a query string; `invalid_metadata_language`", body = ErrorBody),
        Internal,
    )
)]
pub async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    caller: Option<Extension<Caller>>,
    Words(words): Words,
    MetadataLanguage(language): MetadataLanguage,
) -> Result<Json<SearchResults>, ApiError> {
    let items = match &state.library {
        Some(library) => library.items(viewer.profile).await?,
        None => Vec::new(),
    };
    let held: HashSet<(MediaType, u32)> = items.iter().map(|i| (i.media_type, i.tmdb_id)).collect();
    // Posters load through `<img>`, which cannot send credentials: signed as on the library page.
    let binding = state.security.binding(caller.as_deref());
    let library = items
        .into_iter()
        .filter(|i| matches(&fold(&i.title), &words))
        .take(MAX_LIBRARY_HITS)
        .map(|mut item| {
            super::library::sign_poster(&state, &mut item, binding);
            item
        })
        .collect();
    let (tmdb, tmdb_error) = match &state.tmdb {
        None => (Vec::new(), None),
        Some(tmdb) => match tmdb
            .search(
                &words.join(" "),
                language.as_ref(),
                Instant::now() + TMDB_BUDGET,
            )
            .await
        {
            Ok(hits) => (
                hits.iter()
                    .cloned()
                    .map(|hit| TmdbHit {
                        in_library: held.contains(&(hit.media_type, hit.tmdb_id)),
                        hit,
                    })
                    .collect(),
                None,
            ),
            Err(e) => {
                tracing::info!(code = e.code(), error = %e, "TMDB search failed; library results only");
                (
                    Vec::new(),
                    Some(ErrorDetail {
                        code: e.code(),
                        message: e.to_string(),
                    }),
                )
            }
        },
    };
    Ok(Json(SearchResults {
        library,
        tmdb,
        tmdb_available: state.tmdb.is_some(),
        tmdb_error,
    }))
}

/// The query's folded words: `invalid_query` or `invalid_search` in the API's error shape.
#[derive(Debug)]
pub struct Words(Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Words {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let Query(q) = Query::<SearchQuery>::from_request_parts(parts, state).await?;
        Ok(Words(query_words(q.q.as_deref())?))
    }
}

/// The query's words, folded (lower case, no accents), or `invalid_search`.
fn query_words(q: Option<&str>) -> Result<Vec<String>, ApiError> {
    let q = q.unwrap_or("").trim();
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_search",
            format!("the search needs 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(fold(q).split_whitespace().map(String::from).collect())
}

/// Lower case ASCII: "Amélie" and "AMELIE" fold alike (`deunicode` transliterates; a
/// title in another script keeps a searchable Latin form).
fn fold(s: &str) -> String {
    deunicode::deunicode(s).to_lowercase()
}

fn matches(title: &str, words: &[String]) -> bool {
    words.iter().all(|w| title.contains(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_whatever_their_accents_case_and_order() {
        let words = query_words(Some("  AMELIE  destin ")).unwrap();
        assert!(matches(
            &fold("Le Fabuleux Destin d'Amélie Poulain"),
            &words
        ));
        assert!(!matches(&fold("Amélie"), &words));
    }

    #[test]
    fn an_empty_or_overlong_query_is_refused() {
        for q in [None, Some(""), Some("   "), Some(&*"a".repeat(101))] {
            let e = query_words(q).unwrap_err();
            assert_eq!(e.code, "invalid_search");
        }
        assert!(query_words(Some(&"é".repeat(100))).is_ok());
    }
}
