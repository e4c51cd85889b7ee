//! `/api/streaming/resolve/…` and `/api/streaming/{provider}/…`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use utoipa::IntoParams;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::extract::{ApiJson, EpisodeQuery, Title, TitlePath};
use super::present::{Signing, present};
use super::profiles::Viewer;
use super::responses::{Internal, TitleErrors};
use super::warm::{self, Warm};
use crate::cache::{CacheKey, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::models::{MediaRequest, MediaType, ResolveResponse};
use crate::playback::ClientProfile;
use crate::providers::ProviderId;
use crate::resolve::prefer::{self, Wanted};
use crate::startup::AppState;

/// `{provider}/{media_type}/{tmdb_id}`: the resolve route of one provider.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    /// A provider id; 404 `provider_disabled` when this server does not configure it.
    #[param(schema_with = provider_ids)]
    pub provider: String,
    /// `movie` or `tv`.
    pub media_type: MediaType,
    /// The TMDB id (movie and tv ids are separate number spaces).
    #[param(minimum = 1, example = 603)]
    pub tmdb_id: u32,
}

fn provider_ids() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ProviderId::ALL.map(ProviderId::as_str)))
        .build()
}

/// Resolve a title with every enabled provider.
///
/// Providers are asked concurrently, each under its own time budget; one failing never fails
/// the request. The answer is 200 also when nothing was found: `outcomes` has one entry per
/// provider asked. Sources are ranked best first; remote ones carry a signed `proxy_url`,
/// which the player uses whenever it is present.
#[utoipa::path(
    get,
    path = "/api/streaming/resolve/{media_type}/{tmdb_id}",
    operation_id = "resolve",
    params(TitlePath, EpisodeQuery, ResolveQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and one outcome per provider", body = ResolveResponse),
        TitleErrors,
    )
)]
pub async fn resolve_all(
    State(state): State<AppState>,
    Title(request): Title,
    fresh: Fresh,
    viewer: Viewer,
    Warm(client): Warm,
) -> Result<Response, ApiError> {
    let fresh = fresh.allowed(&state);
    let asked = Asked {
        request,
        fresh,
        viewer: viewer.profile,
        media: viewer.media,
        client,
    };
    resolve(state, Scope::All, asked).await
}

/// Resolve a title with one provider.
///
/// The same answer as the resolve of every provider, from one provider by id.
#[utoipa::path(
    get,
    path = "/api/streaming/{provider}/{media_type}/{tmdb_id}",
    operation_id = "resolve_with_provider",
    params(ProviderPath, EpisodeQuery, ResolveQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and the provider's outcome", body = ResolveResponse),
        (status = 400, description = "Bad input: `unknown_provider`, `unknown_media_type`, `invalid_tmdb_id`, \
            `missing_episode`, `invalid_episode`, `unexpected_episode`, `invalid_query`", body = ErrorBody),
        (status = 404, description = "`provider_disabled`: this server does not configure that provider", body = ErrorBody),
        Internal,
    )
)]
pub async fn resolve_one(
    State(state): State<AppState>,
    // Extracted first: `unknown_provider` and `provider_disabled` win over a bad title.
    ProviderScope(scope): ProviderScope,
    Title(request): Title,
    fresh: Fresh,
    viewer: Viewer,
    Warm(client): Warm,
) -> Result<Response, ApiError> {
    let fresh = fresh.allowed(&state);
    let asked = Asked {
        request,
        fresh,
        viewer: viewer.profile,
        media: viewer.media,
        client,
    };
    resolve(state, scope, asked).await
}

/// A resolve's options beside the title.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// `1`: ask the providers again, bypassing the cache (the player's "Réessayer"); honoured
    /// at most once per 10 s per client, an ordinary answer beyond.
    pub fresh: Option<String>,
    /// What the browser that will play the answer decodes (`docs/playback.md`), as its master
    /// playlist request will carry it: the first source, when the playback engine packages it,
    /// starts packaging at once. Never changes the answer.
    pub profile: Option<String>,
}

/// `?fresh=1`: ask the providers again, bypassing the cache (the player's "Réessayer").
/// Honoured at most once per 10 s per client (`Security::fresh_limit`); beyond, the answer
/// is an ordinary one (cached, failing sources left out).
#[derive(Debug)]
pub struct Fresh {
    wanted: bool,
    client: std::net::IpAddr,
}

impl Fresh {
    fn allowed(&self, state: &AppState) -> bool {
        self.wanted && state.security.fresh_limit.check(self.client).is_ok()
    }
}

impl FromRequestParts<AppState> for Fresh {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let wanted = parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "fresh=1" || kv == "fresh=true"));
        let client = state.security.trusted_proxies.client_ip_of(parts);
        Ok(Fresh { wanted, client })
    }
}

/// The `{provider}` segment, judged against this server's providers: an unknown id is 400
/// `unknown_provider` (not a path error), a known one not configured here 404
/// `provider_disabled`.
#[derive(Debug)]
pub struct ProviderScope(pub Scope);

impl FromRequestParts<AppState> for ProviderScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            provider: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        Ok(ProviderScope(state.resolver.scope(&raw.provider)?))
    }
}

/// What a resolve request asks beside its scope.
struct Asked {
    request: MediaRequest,
    /// `?fresh=1`, honoured.
    fresh: bool,
    /// The viewer's profile (languages, progress).
    viewer: i64,
    /// What the media tokens of the answer are bound to.
    media: Option<crate::security::media_url::Binding>,
    /// `?profile=`: the browser that will play the answer (`api::warm`).
    client: Option<ClientProfile>,
}

async fn resolve(state: AppState, scope: Scope, asked: Asked) -> Result<Response, ApiError> {
    let body = answer(&state, scope, &asked).await?;
    if let Some(client) = asked.client {
        warm::start(&state, &body, client);
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The answer's JSON, as sent.
async fn answer(state: &AppState, scope: Scope, asked: &Asked) -> Result<Bytes, ApiError> {
    let request = asked.request;
    let mut resolved = match asked.fresh {
        true => state.resolver.resolve_fresh(request, scope.clone()).await?,
        false => state.resolver.resolve(request, scope.clone()).await?,
    };

    // After the cache: the cached answer is every viewer's, the order by language is this one's.
    let wanted = wanted_languages(state, request, asked.viewer).await?;
    let mut reordered = false;
    if wanted != Wanted::Nothing {
        let mut streams = resolved.resolution.streams.clone();
        if prefer::prefer(&mut streams, &wanted) {
            Arc::make_mut(&mut resolved.resolution).streams = streams;
            reordered = true;
        }
    }
    // After the languages: a failing source stays last whatever its language.
    let demoted = demote_failing(state, &mut resolved).await;
    let now = state.clock.unix();
    let signing = Signing {
        proxy: &state.signer,
        security: Some(&state.security),
        binding: asked.media,
    };
    // A cached answer without its failing sources is this moment's, not the rendered one's.
    if resolved.cached && !demoted {
        let mut key = CacheKey { scope, request }.to_string();
        if reordered {
            key = format!("{key}|{wanted:?}");
        }
        return Ok(state.rendered.get_or_render(
            &key,
            &resolved.resolution,
            signing,
            now,
            state.settings.proxy.url_ttl,
        ));
    }
    let answer = present(
        &resolved.resolution,
        resolved.cached,
        signing,
        now + state.settings.proxy.url_ttl,
    );
    serde_json::to_vec(&answer)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal_while("rendering a resolve answer", e))
}

/// The profile's audio wish for this title: the series' last choice for an episode, else the
/// preferences.
async fn wanted_languages(
    state: &AppState,
    request: MediaRequest,
    profile: i64,
) -> Result<Wanted, ApiError> {
    let prefs = state.store.language_preferences(profile).await?;
    let series = match request.media_type() {
        MediaType::Tv => {
            state
                .store
                .series_language_choice(profile, request.tmdb_id())
                .await?
        }
        MediaType::Movie => None,
    };
    Ok(Wanted::of(&prefs, series.as_ref()))
}

/// Where the player saw a source fail.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureStage {
    /// The playlist (or the file) could not be loaded.
    Manifest,
    /// Segments kept failing.
    Segment,
    /// The browser could not decode what it got.
    Decode,
    /// Nothing played within the player's patience.
    Timeout,
}

impl FailureStage {
    fn label(self) -> &'static str {
        match self {
            FailureStage::Manifest => "manifest",
            FailureStage::Segment => "segment",
            FailureStage::Decode => "decode",
            FailureStage::Timeout => "timeout",
        }
    }
}

/// A player's report that a source does not play.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceReport {
    /// The source's `proxy_url` exactly as a resolve answer gave it (path and query, or an
    /// absolute URL on this server).
    pub proxy_url: String,
    pub stage: FailureStage,
    /// The player's own error code (hls.js `details`, a `MediaError` code), for the logs;
    /// at most 64 characters.
    pub code: Option<String>,
}

/// How long the reported source is now left out.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportAnswer {
    /// Seconds the source is left out of cached answers and ranked last in fresh ones.
    pub failing_for: u64,
}

/// Report a source that does not play.
///
/// Marks the source as failing for every viewer (on every instance when Redis is configured)
/// for `resolve.failing_ttl` seconds: cached resolve answers leave it out, fresh ones
/// (`?fresh=1`) rank it last. The report must name a proxy URL this server signed, so a
/// client can only demote a source it was given. Rate-limited like resolves.
#[utoipa::path(
    post,
    path = "/api/streaming/report",
    operation_id = "report_source",
    request_body = SourceReport,
    responses(
        (status = 202, description = "The source is known as failing", body = ReportAnswer),
        (status = 400, description = "`invalid_report`: not a proxy URL, or a code over 64 characters; \
            `invalid_body`: not JSON", body = ErrorBody),
        (status = 403, description = "`proxy_url_malformed`, `proxy_url_invalid`, `proxy_url_expired`: \
            the URL was not signed by this server, was altered, or has expired", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a missing field or an unknown stage", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        Internal,
    )
)]
pub async fn report(
    State(state): State<AppState>,
    ApiJson(report): ApiJson<SourceReport>,
) -> Result<Response, ApiError> {
    let invalid = |m: &str| ApiError::bad_request("invalid_report", m.to_string());
    if report.code.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(invalid("the player's code is longer than 64 characters"));
    }
    let query = report
        .proxy_url
        .split_once(crate::proxy::token::PROXY_PATH)
        .and_then(|(_, rest)| rest.split_once('?'))
        .map(|(_, q)| q)
        .ok_or_else(|| invalid("proxy_url is not a proxy URL of this server"))?;
    let verified = crate::proxy::query::ProxyQuery::parse(Some(query))
        .verify(&state.signer, state.clock.unix())
        .map_err(crate::proxy::ProxyError::from)?;
    let provider = verified.context.provider.as_deref();
    let print = crate::resolve::failing::fingerprint(provider, &verified.upstream);
    state.failing.mark(print).await;
    state.metrics.edge.report(report.stage.label());
    tracing::info!(
        provider,
        stage = report.stage.label(),
        code = report.code.as_deref(),
        "a player reported a failing source"
    );
    let answer = ReportAnswer {
        failing_for: state.failing.ttl().as_secs(),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// Leaves the reported sources out of a cached answer, or ranks them last in a fresh one
/// (and in a cached one they would empty).
/// `true` if anything changed.
async fn demote_failing(state: &AppState, resolved: &mut crate::resolve::Resolved) -> bool {
    let streams = &resolved.resolution.streams;
    let prints: Vec<Option<String>> = streams
        .iter()
        .map(crate::resolve::failing::of_stream)
        .collect();
    let known: Vec<String> = prints.iter().flatten().cloned().collect();
    let failing = state.failing.failing(&known).await;
    if failing.is_empty() {
        return false;
    }
    let is_failing = |p: &Option<String>| p.as_ref().is_some_and(|p| failing.contains(p));
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for (stream, print) in streams.iter().zip(&prints) {
        match is_failing(print) {
            true => bad.push(stream.clone()),
            false => ok.push(stream.clone()),
        }
    }
    // A cached answer made only of failing sources keeps them: one may still play, and an
    // empty answer certainly does not.
    if !resolved.cached || ok.is_empty() {
        ok.extend(bad);
    }
    Arc::make_mut(&mut resolved.resolution).streams = ok;
    true
}
