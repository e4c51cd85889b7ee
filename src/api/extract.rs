//! The typed edges of the API: extractors that turn a request's path, query and body into
//! validated values, or into the contract's `{"error":{"code","message"}}` 400s. Handlers
//! receive only valid input.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::models::{MediaRequest, MediaType, TmdbId, parse_episode, parse_positive, parse_season};

/// `{media_type}/{tmdb_id}` of the routes about one title (metadata, library). Its fields are
/// parsed here, from text, so that a bad value gets our own error code; the same type
/// describes them in the OpenAPI document.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TitlePath {
    /// `movie` or `tv`.
    pub media_type: MediaType,
    /// The TMDB id (movie and tv ids are separate number spaces).
    #[param(value_type = u32, minimum = 1, example = 603)]
    pub tmdb_id: TmdbId,
}

/// The path segments as text: parsing them is ours, not serde's.
#[derive(Deserialize)]
struct RawTitle {
    media_type: String,
    tmdb_id: String,
}

async fn raw_title<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<RawTitle, ApiError> {
    let Path(raw) = Path::<RawTitle>::from_request_parts(parts, state).await?;
    Ok(raw)
}

impl<S: Send + Sync> FromRequestParts<S> for TitlePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = raw_title(parts, state).await?;
        Ok(TitlePath {
            media_type: raw.media_type.parse()?,
            tmdb_id: raw.tmdb_id.parse()?,
        })
    }
}

/// `tv/{tmdb_id}/season/{season}` of the season metadata route: the id as for a title, the
/// season a whole number (0 holds the specials), `invalid_episode` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct SeasonPath {
    pub tmdb_id: TmdbId,
    pub season: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for SeasonPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            tmdb_id: String,
            season: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        Ok(SeasonPath {
            tmdb_id: raw.tmdb_id.parse()?,
            season: parse_season(&raw.season)?,
        })
    }
}

/// `tv/{tmdb_id}/{season}/{episode}` of an episode's still: the id as for a title, season and
/// episode whole numbers (episodes from 1), `invalid_episode` otherwise.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EpisodePath {
    /// The series' TMDB id.
    #[param(value_type = u32, minimum = 1, example = 1396)]
    pub tmdb_id: TmdbId,
    /// 0 holds the specials.
    #[param(minimum = 0)]
    pub season: u32,
    #[param(minimum = 1)]
    pub episode: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for EpisodePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            tmdb_id: String,
            season: String,
            episode: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        Ok(EpisodePath {
            tmdb_id: raw.tmdb_id.parse()?,
            season: parse_season(&raw.season)?,
            episode: parse_episode(&raw.episode)?,
        })
    }
}

/// `{file_id}` of the `/api/media/…` routes: a library file's store id. Anything that is not
/// one is 404 `media_not_found`, as an id that names no file is: ids are not a space to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for FileId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            file_id: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        parse_positive(&raw.file_id)
            .and_then(|n| i64::try_from(n.get()).ok())
            .map(FileId)
            .ok_or_else(FileId::not_found)
    }
}

impl FileId {
    pub fn not_found() -> ApiError {
        ApiError::not_found("media_not_found", "no such media file in the library")
    }
}

/// `?language=` of the TMDB-backed routes: the viewer's interface language, which titles,
/// synopses and episode names are asked in. Left out: TMDB's default (English).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LanguageParam {
    /// `fr`, `en`, `pt-BR`: ISO 639-1, with a region or not.
    #[param(example = "fr")]
    language: Option<String>,
}

/// The parsed `?language=`; anything else in the query is left to other extractors.
#[derive(Debug, Clone, Default)]
pub struct MetadataLanguage(pub Option<crate::tmdb::Language>);

impl<S: Send + Sync> FromRequestParts<S> for MetadataLanguage {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(param) = Query::<LanguageParam>::from_request_parts(parts, state).await?;
        match param.language.as_deref() {
            None | Some("") => Ok(MetadataLanguage(None)),
            Some(tag) => crate::tmdb::Language::parse(tag)
                .map(|l| MetadataLanguage(Some(l)))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_metadata_language",
                        "language is an ISO 639-1 code, with a region or not (`fr`, `pt-BR`)",
                    )
                }),
        }
    }
}

/// `season` and `episode` arrive as text so that a bad value gets our own clear error.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EpisodeQuery {
    /// `tv` only, and then required: the season (0 holds the specials).
    #[param(value_type = Option<u32>, minimum = 0)]
    season: Option<String>,
    /// `tv` only, and then required: the episode within the season.
    #[param(value_type = Option<u32>, minimum = 1)]
    episode: Option<String>,
}

/// A film, or one episode of a series: `{media_type}/{tmdb_id}?season&episode` (resolve,
/// progress), validated by [`MediaRequest::parse`]. A query that is not a query string is
/// `invalid_query` before anything else is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Title(pub MediaRequest);

impl<S: Send + Sync> FromRequestParts<S> for Title {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<EpisodeQuery>::from_request_parts(parts, state).await?;
        let raw = raw_title(parts, state).await?;
        Ok(Title(MediaRequest::parse(
            &raw.media_type,
            &raw.tmdb_id,
            q.season.as_deref(),
            q.episode.as_deref(),
        )?))
    }
}

/// `axum::Json` whose rejections have the API's error shape: `invalid_body` (400 not JSON,
/// 415 not `application/json`, 422 wrong fields) or `payload_too_large` (413).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::{Router, extract::FromRequest};

    use super::*;

    type Answer<T> = Result<T, (StatusCode, &'static str)>;

    /// What extractor `T` makes of `uri` matched by `route`: path parameters are only set by
    /// routing, so the request goes through a one-route router (no server, no HTTP).
    async fn extract<T>(uri: &str, route: &str) -> Answer<T>
    where
        T: FromRequestParts<(), Rejection = ApiError> + Send + 'static,
    {
        use tower::ServiceExt;
        let (tx, rx) = std::sync::mpsc::channel();
        let app = Router::new().route(
            route,
            get(move |got: Result<T, ApiError>| async move {
                tx.send(got.map_err(|e| (e.status, e.code))).unwrap();
            }),
        );
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap();
        rx.recv().unwrap()
    }

    async fn title(uri: &str) -> Answer<MediaRequest> {
        extract::<Title>(uri, "/{media_type}/{tmdb_id}")
            .await
            .map(|t| t.0)
    }

    fn rejected(code: &'static str) -> Answer<MediaRequest> {
        Err((StatusCode::BAD_REQUEST, code))
    }

    #[tokio::test]
    async fn a_title_is_a_movie_or_one_episode() {
        assert_eq!(title("/movie/603").await, Ok(MediaRequest::movie(603)));
        assert_eq!(
            title("/tv/1396?season=0&episode=1").await,
            Ok(MediaRequest::episode(1396, 0, 1))
        );
        assert_eq!(
            extract::<Title>(
                "/x/jellyfin/movie/603",
                "/x/{provider}/{media_type}/{tmdb_id}"
            )
            .await
            .map(|t| t.0),
            Ok(MediaRequest::movie(603)),
            "other path segments are left to other extractors"
        );
    }

    #[tokio::test]
    async fn each_bad_title_has_its_code() {
        assert_eq!(title("/film/603").await, rejected("unknown_media_type"));
        for id in ["abc", "0", "-4", "+7", "4294967296"] {
            assert_eq!(
                title(&format!("/movie/{id}")).await,
                rejected("invalid_tmdb_id"),
                "{id}"
            );
        }
        assert_eq!(
            title("/tv/1396?season=1").await,
            rejected("missing_episode")
        );
        assert_eq!(
            title("/tv/1396?season=1&episode=0").await,
            rejected("invalid_episode")
        );
        assert_eq!(
            title("/tv/1396?season=-1&episode=1").await,
            rejected("invalid_episode")
        );
        assert_eq!(
            title("/movie/603?season=1&episode=1").await,
            rejected("unexpected_episode")
        );
        assert_eq!(
            title("/movie/%FF").await,
            rejected("invalid_path"),
            "not UTF-8: JSON like every other error"
        );
        assert_eq!(
            title("/movie/abc?season=1&season=2").await,
            rejected("invalid_query"),
            "a repeated key is not a query of this route, and it is read first"
        );
    }

    #[tokio::test]
    async fn a_title_path_takes_no_episode_and_has_the_same_codes() {
        let path = |uri: &'static str| async move {
            extract::<TitlePath>(uri, "/{media_type}/{tmdb_id}")
                .await
                .map(|p| (p.media_type, p.tmdb_id.get()))
        };
        assert_eq!(path("/tv/1396").await, Ok((MediaType::Tv, 1396)));
        assert_eq!(
            path("/movie/603?season=1").await,
            Ok((MediaType::Movie, 603)),
            "the query is not its business"
        );
        assert_eq!(
            path("/film/603").await,
            Err((StatusCode::BAD_REQUEST, "unknown_media_type"))
        );
        assert_eq!(
            path("/movie/0").await,
            Err((StatusCode::BAD_REQUEST, "invalid_tmdb_id"))
        );
    }

    #[tokio::test]
    async fn a_season_path_has_the_title_codes_and_its_own() {
        async fn season(uri: &str) -> Answer<(u32, u32)> {
            extract::<SeasonPath>(uri, "/tv/{tmdb_id}/season/{season}")
                .await
                .map(|p| (p.tmdb_id.get(), p.season))
        }
        assert_eq!(season("/tv/1396/season/0").await, Ok((1396, 0)));
        for id in ["0", "abc", "99999999999"] {
            assert_eq!(
                season(&format!("/tv/{id}/season/1")).await,
                Err((StatusCode::BAD_REQUEST, "invalid_tmdb_id")),
                "{id}"
            );
        }
        assert_eq!(
            season("/tv/1396/season/-1").await,
            Err((StatusCode::BAD_REQUEST, "invalid_episode"))
        );
        assert_eq!(
            season("/tv/abc/season/x").await,
            Err((StatusCode::BAD_REQUEST, "invalid_tmdb_id")),
            "the id is judged first"
        );
    }

    #[tokio::test]
    async fn a_file_id_that_names_no_file_is_not_found() {
        let route = "/media/{file_id}/hls/{variant}/{name}";
        assert_eq!(
            extract::<FileId>("/media/42/hls/v0/index.m3u8", route).await,
            Ok(FileId(42))
        );
        for id in ["0", "-1", "+1", "abc", "9223372036854775808"] {
            assert_eq!(
                extract::<FileId>(&format!("/media/{id}/hls/v0/1.ts"), route).await,
                Err((StatusCode::NOT_FOUND, "media_not_found")),
                "{id}"
            );
        }
    }

    #[tokio::test]
    async fn the_json_extractor_answers_in_the_api_shape() {
        #[derive(Debug, Deserialize)]
        struct Body_ {
            #[allow(dead_code)]
            position: f64,
        }
        async fn code(content_type: &str, body: &'static str) -> (StatusCode, &'static str) {
            let request = Request::builder()
                .header("content-type", content_type)
                .body(Body::from(body))
                .unwrap();
            let e = ApiJson::<Body_>::from_request(request, &())
                .await
                .unwrap_err();
            (e.status, e.code)
        }
        let invalid = "invalid_body";
        assert_eq!(
            code("application/json", "{").await,
            (StatusCode::BAD_REQUEST, invalid)
        );
        assert_eq!(
            code("text/plain", "{}").await,
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, invalid)
        );
        assert_eq!(
            code("application/json", r#"{"position":"x"}"#).await,
            (StatusCode::UNPROCESSABLE_ENTITY, invalid)
        );
    }
}
