//! `GET /api/streaming/proxy?c=…&u=…&s=…[&v=…][&k=j]`: the HLS proxy's HTTP edge. The
//! request's phases (verify → fetch → classify → rewrite or relay) are `proxy::relay`'s; this
//! module extracts the request, calls it, builds the response and counts it.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

use crate::error::ApiError;
use crate::metrics::ProxyLabels;
use crate::proxy::relay::{Client, Outcome, Relay};
use crate::proxy::segment::{
    add_common_headers, document, insert_static, only_player_types, relay,
};
use crate::security::rate_limit::bucket_key;
use crate::startup::AppState;

/// The signed parameters, for the documentation only: the handler reads the raw query.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Sealed context (headers, expiry).
    pub c: String,
    /// The upstream URL, encrypted.
    pub u: String,
    /// Signature.
    pub s: String,
    /// Variables of a rewritten playlist (`EXT-X-DEFINE`), when any.
    pub v: Option<String>,
    /// `j` for a JSON document (content steering, interstitials).
    pub k: Option<String>,
}

/// The answers of both proxy routes, documented once.
#[derive(Debug)]
pub struct ProxyAnswers;

impl utoipa::IntoResponses for ProxyAnswers {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let bytes = [
            "application/vnd.apple.mpegurl",
            "application/json",
            "application/octet-stream",
        ];
        let ok = || {
            let bytes = bytes.into_iter();
            bytes.fold(ResponseBuilder::new(), |r, t| {
                r.content(t, Content::default())
            })
        };
        let error = Content::new(Some(Ref::from_schema_name("ErrorBody")));
        let answers = [
            (
                200,
                "The upstream body: a rewritten playlist or JSON document, or the bytes unchanged",
            ),
            (
                206,
                "A byte range of the upstream body (the request sent `Range`)",
            ),
            (304, "Not modified (the request sent a validator)"),
            (
                403,
                "`proxy_url_malformed`, `proxy_url_invalid`, `proxy_url_expired`, `destination_not_allowed`, \
                or `upstream_forbidden` (the upstream answered 403: the player switches source)",
            ),
            (404, "`upstream_not_found`: the upstream answered 404"),
            (410, "`upstream_gone`: the upstream answered 410"),
            (416, "Range not satisfiable, as the upstream said"),
            (
                502,
                "`upstream_unreachable`, `upstream_error`, `too_many_redirects`, `playlist_too_large`, \
                `upstream_invalid_json`, `upstream_body_error`, `upstream_subtitle_unreadable` (a subtitle file \
                that is neither WebVTT, SRT nor ASS)",
            ),
            (
                503,
                "`upstream_busy`: too many requests in flight to the upstream host, or too many \
                playlists being rewritten at once (`proxy.rewrite_memory_budget`)",
            ),
            (504, "`upstream_timeout`"),
        ];
        let answer = |(status, description): (u16, &str)| {
            let response = match status {
                200 => ok(),
                206 | 304 | 416 => ResponseBuilder::new(),
                _ => ResponseBuilder::new().content("application/json", error.clone()),
            };
            (
                status.to_string(),
                response.description(description).build().into(),
            )
        };
        answers.into_iter().map(answer).collect()
    }
}

/// Relay a remote source with the headers it needs.
///
/// Only the server mints these URLs (see `proxy_url` in resolve answers): each is signed and
/// expiring, and its query format is internal. Playlists come back rewritten so that every URI
/// a player fetches returns through the proxy; everything else streams through unchanged, with
/// Range support. LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`…) are
/// passed upstream. Needs no bearer token: the signature is the authorization.
#[utoipa::path(
    get,
    path = "/api/streaming/proxy",
    operation_id = "proxy",
    params(SignedQuery),
    responses(ProxyAnswers),
    security(())
)]
pub async fn proxy(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Response {
    let client = Client {
        ip: bucket_key(state.security.trusted_proxies.client_ip(&request)),
        headers: request.headers(),
    };
    let relay = Relay {
        signer: &state.signer,
        now: state.clock.unix(),
        http: &state.proxy_http,
        guard: &state.guard,
        metrics: &state.metrics,
        budget: &state.rewrite_budget,
        settings: &state.settings.proxy,
        edge: &state.edge,
    };
    match relay.serve(raw.as_deref(), client).await {
        Ok(outcome) => {
            let kind = outcome.kind();
            let mut response = respond(&state, outcome);
            count(&state, kind, response.status());
            // Relayed or rewritten, a body keeps its upstream type only if a player needs it.
            only_player_types(response.headers_mut());
            response
        }
        Err(e) => {
            let e = ApiError::from(e);
            count(&state, "error", e.status);
            let mut response = e.into_response();
            add_common_headers(response.headers_mut());
            response
        }
    }
}

fn count(state: &AppState, kind: &str, status: StatusCode) {
    state
        .metrics
        .proxy_responses
        .get_or_create(&ProxyLabels {
            kind: kind.to_string(),
            status: status.as_u16(),
        })
        .inc();
}

/// The proxy with a file name, as in rewritten playlists.
///
/// Children of a rewritten document are named after the upstream file's extension
/// (`/api/streaming/proxy/f.ts?c=…`) because some players judge a segment by its extension.
/// The name is cosmetic and unsigned; everything else is the plain proxy route.
#[utoipa::path(
    get,
    path = "/api/streaming/proxy/{name}",
    operation_id = "proxy_named",
    params(("name" = String, Path, description = "Cosmetic file name, ignored"), SignedQuery),
    responses(ProxyAnswers),
    security(())
)]
pub async fn proxy_named(state: State<AppState>, raw: RawQuery, request: Request) -> Response {
    proxy(state, raw, request).await
}

/// CORS preflight of the proxy: a player on another origin may send `Range`.
#[utoipa::path(
    options,
    path = "/api/streaming/proxy",
    operation_id = "proxy_preflight",
    responses((status = 204, description = "Allowed methods and headers")),
    security(())
)]
pub async fn preflight() -> Response {
    preflight_response()
}

/// CORS preflight of the named proxy route.
#[utoipa::path(
    options,
    path = "/api/streaming/proxy/{name}",
    operation_id = "proxy_named_preflight",
    params(("name" = String, Path, description = "Cosmetic file name, ignored")),
    responses((status = 204, description = "Allowed methods and headers")),
    security(())
)]
pub async fn preflight_named() -> Response {
    preflight_response()
}

const PREFLIGHT_HEADERS: [(HeaderName, &str); 3] = [
    (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
    (
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Range, If-Range, If-None-Match, If-Modified-Since",
    ),
    (header::ACCESS_CONTROL_MAX_AGE, "86400"),
];

fn preflight_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    add_common_headers(response.headers_mut());
    insert_static(response.headers_mut(), PREFLIGHT_HEADERS);
    response
}

fn respond(state: &AppState, outcome: Outcome) -> Response {
    match outcome {
        Outcome::Stream {
            response,
            first,
            idle,
            resume,
        } => relay(response, first, idle, state.metrics.clone(), resume),
        Outcome::Document(doc) => {
            if let Some(len) = doc.len {
                state.metrics.proxy_bytes.inc_by(len);
            }
            document(doc)
        }
    }
}
