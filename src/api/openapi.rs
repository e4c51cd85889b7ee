//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` attributes and the DTOs' `ToSchema` derives (see `documented_routes`).
//!
//! It sits under `/api/**`, so it needs the bearer token when `SOKOUL_API_TOKEN` is set, like
//! every other API route: the contract protects all of `/api/**` but signed proxy URLs, and
//! the dashboard's documentation page sends the token it stores anyway.

use std::sync::LazyLock;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, Content, OpenApi, Ref, RefOr, Required, ResponseBuilder};

use crate::error::{ApiError, ErrorBody};

/// Names of the security schemes in the document.
pub const BEARER: &str = "bearer";
pub const SESSION: &str = "session";

/// The document's fixed parts; paths and schemas come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Sokoul streaming",
        description = "Resolve TMDB ids to playable sources, relay HLS through a signed proxy, \
            play the local library and keep watch progress.\n\n\
            Every error answer is JSON: `{\"error\": {\"code\": \"snake_case\", \"message\": \"…\"}}` \
            (schema `ErrorBody`); programs match on `code`.\n\n\
            Once an account exists, or when the server sets `SOKOUL_API_TOKEN`, every `/api/**` \
            route but the signed proxy and `/api/auth/{state,login,logout}` needs a session \
            cookie (`POST /api/auth/login`) or `Authorization: Bearer <SOKOUL_API_TOKEN>` \
            (an admin). Members get 403 `admin_only` on the admin routes (accounts, library \
            scans, this document). With `SOKOUL_REDIS_URL` sessions are checked in Redis: \
            while it is unreachable a session not checked in the last 5 s gets 503 \
            `session_store_unavailable`.\n\n\
            Library URLs in answers (`/api/media/…`, posters) carry a media token `st=` that \
            stands in for the cookie; one handed to a session dies with it (401 \
            `media_url_revoked`)."
    ),
    tags(
        (name = "resolve", description = "TMDB id → ranked, playable sources"),
        (name = "proxy", description = "The signed HLS proxy; its URLs come from resolve answers"),
        (name = "library", description = "The local media library"),
        (name = "media", description = "Playing a library file: direct play, HLS, subtitles"),
        (name = "progress", description = "Watch positions"),
        (name = "profiles", description = "Who watches: an account's profiles, the one a session selected"),
        (name = "preferences", description = "The viewer's languages, and per-series choices"),
        (name = "metadata", description = "TMDB metadata (needs SOKOUL_TMDB_KEY)"),
        (name = "auth", description = "Accounts: first run, login, logout, sessions"),
        (name = "operations", description = "Liveness, readiness, metrics, this document"),
    ),
    components(schemas(ErrorBody))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The whole document, with the bearer scheme applied exactly where the token middleware
/// applies it.
pub fn openapi() -> OpenApi {
    let (_, mut doc) = super::documented_routes().split_for_parts();
    complete(&mut doc);
    doc
}

/// What a browser needs before it has a session: whether to show the login or the first-run
/// page, the login itself, and the logout (which only ends the session it carries).
const PUBLIC_AUTH: &[&str] = &["/api/auth/state", "/api/auth/login", "/api/auth/logout"];

/// Whether the token middleware guards `path` (a route template or a request path): the rule
/// of `startup::require_token`, which a test checks route by route.
pub fn needs_token(path: &str) -> bool {
    // A remote engine source is a sealed proxy URL: its signature is the credential too.
    path.starts_with("/api/")
        && !PUBLIC_AUTH.contains(&path)
        && !crate::proxy::token::is_proxy_path(path)
        && !path.starts_with(crate::api::playback::PLAYBACK_PATH)
}

/// Each route's tag: the first section whose prefix starts its path. The sections are
/// `ApiDoc`'s `tags`, so a route is grouped by where it lives rather than by a line every
/// handler repeats (a test checks that every operation gets one of them).
const SECTIONS: &[(&str, &str)] = &[
    ("/api/auth/", "auth"),
    ("/api/streaming/proxy", "proxy"),
    ("/api/streaming/", "resolve"),
    ("/api/library/", "library"),
    ("/api/media/", "media"),
    ("/api/playback/", "media"),
    ("/api/progress", "progress"),
    ("/api/profiles", "profiles"),
    ("/api/tokens", "auth"),
    ("/api/preferences/", "preferences"),
    ("/api/metadata/", "metadata"),
    ("/", "operations"),
];

fn section(path: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or("operations", |(_, tag)| tag)
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The two ways in: the API token as a bearer, the session cookie.
fn add_schemes(doc: &mut OpenApi) {
    doc.components
        .get_or_insert_with(Components::new)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The value of SOKOUL_API_TOKEN (acts as an admin). Needed only when \
                         the server sets it and the request has no session cookie.",
                    ))
                    .build(),
            ),
        );
    doc.components
        .get_or_insert_with(Components::new)
        .add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::accounts::session::COOKIE,
                "The session cookie set by POST /api/auth/login or /api/auth/setup \
                 (HttpOnly, SameSite=Lax). Needed once an account exists.",
            ))),
        );
}

/// Either scheme on the operations of a guarded path, with their 401, and 403 on admin routes.
fn secure(
    item: &mut PathItem,
    path: &str,
    unauthorized: &utoipa::openapi::Response,
    admin_only: &utoipa::openapi::Response,
) {
    let admin = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for (method, operation) in admin.iter().zip([
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]) {
        let Some(operation) = operation else { continue };
        // Alternatives: either scheme is enough.
        operation.security = Some(vec![
            SecurityRequirement::new(SESSION, Vec::<String>::new()),
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
        ]);
        let responses = &mut operation.responses.responses;
        responses
            .entry("401".to_string())
            .or_insert_with(|| RefOr::T(unauthorized.clone()));
        if crate::security::admin_only(method, path) {
            responses
                .entry("403".to_string())
                .or_insert_with(|| RefOr::T(admin_only.clone()));
        }
    }
}

/// The bearer scheme and its 401 where the token middleware applies; required path parameters.
fn complete(doc: &mut OpenApi) {
    add_schemes(doc);
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    let rate_limited = error(
        "`rate_limited`: this client sent more resolves than `security.rate_limit_per_second` \
         allows (burst `security.rate_limit_burst`); `Retry-After` says when to try again",
    );
    let admin_only = error("`admin_only`: a member's session; this route is for admins");
    let unauthorized = error(
        "`unauthorized`: the server has accounts or SOKOUL_API_TOKEN, and the request \
         carried neither a live session cookie nor the token",
    );
    let too_large = error("`payload_too_large`: the body is over `security.max_body_bytes`");
    let uri_too_long =
        error("`uri_too_long`: the path and query are over `security.max_uri_bytes`");
    for (path, item) in doc.paths.paths.iter_mut() {
        let limited = crate::security::rate_limit::LIMITED_ROUTES.contains(&path.as_str());
        for operation in operations_mut(item) {
            operation.tags = Some(vec![section(path).to_string()]);
            let responses = &mut operation.responses.responses;
            responses
                .entry("414".to_string())
                .or_insert_with(|| RefOr::T(uri_too_long.clone()));
            if operation.request_body.is_some() {
                responses
                    .entry("413".to_string())
                    .or_insert_with(|| RefOr::T(too_large.clone()));
            }
            if limited {
                responses
                    .entry("429".to_string())
                    .or_insert_with(|| RefOr::T(rate_limited.clone()));
            }
            // OpenAPI requires it, and a `schema_with` parameter loses it.
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Path {
                    parameter.required = Required::True;
                }
            }
        }
        if !needs_token(path) {
            continue;
        }
        secure(item, path, &unauthorized, &admin_only);
    }
}

/// Rendered once: the document only changes with the code.
static DOCUMENT: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    openapi()
        .to_pretty_json()
        .map(Bytes::from)
        .map_err(|e| e.to_string())
});

/// The OpenAPI document of this API.
///
/// Generated from the code. The dashboard renders it at `/api-docs`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "get_openapi",
    responses(
        (status = 200, description = "An OpenAPI 3.1 document", content_type = "application/json", body = Object),
        (status = 500, description = "`internal`: the document could not be rendered", body = ErrorBody),
    )
)]
pub async fn document() -> Response {
    match &*DOCUMENT {
        Ok(json) => {
            let mut response = (StatusCode::OK, json.clone()).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            // Revalidated so that an upgraded server is seen at once.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => ApiError::internal(format!("the OpenAPI document cannot be rendered: {e}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;
    use ts_rs::TS;

    use super::*;
    use crate::api::progress::{ProgressList, ProgressUpdate};
    use crate::models::MediaType;
    use crate::models::{
        Markers, MediaInfo, OutcomeStatus, ProviderOutcome, Range, ResolveResponse, SourceDto,
        StreamKind, SubtitleDto, SubtitleFormat, ThumbnailsDto, TileGrid,
    };
    use crate::store::progress::ProgressEntry;
    use crate::tmdb::{Episode, Metadata, Season, SeasonSummary};

    /// What the dashboard's TypeScript and the OpenAPI document must agree on.
    #[derive(Debug, PartialEq)]
    enum Shape {
        /// Field name → (may be left out, may be null).
        Object(BTreeMap<String, (bool, bool)>),
        Enum(BTreeSet<String>),
    }

    fn without_comments(mut s: &str) -> String {
        let mut out = String::new();
        while let Some(start) = s.find("/*") {
            out.push_str(&s[..start]);
            s = s[start..]
                .find("*/")
                .map_or("", |end| &s[start + end + 2..]);
        }
        out.push_str(s);
        out
    }

    /// Splits at the commas that are not nested in `{}`, `<>`, `()` or `[]`.
    fn top_level_fields(body: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
        for (i, c) in body.char_indices() {
            match c {
                '{' | '<' | '(' | '[' => depth += 1,
                '}' | '>' | ')' | ']' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&body[start..]);
        out.into_iter()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect()
    }

    fn ts_shape(decl: &str) -> Shape {
        let decl = without_comments(decl);
        let (_, rhs) = decl.split_once('=').expect("a type declaration");
        let rhs = rhs.trim().trim_end_matches(';').trim();
        if let Some(body) = rhs.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            let fields = top_level_fields(body)
                .into_iter()
                .map(|field| {
                    let (name, ty) = field.split_once(':').expect("name: type");
                    let optional = name.trim().ends_with('?');
                    let name = name.trim().trim_end_matches('?').to_string();
                    (name, (optional, ty.trim().ends_with("| null")))
                })
                .collect();
            Shape::Object(fields)
        } else {
            Shape::Enum(
                rhs.split('|')
                    .map(|v| v.trim().trim_matches('"').to_string())
                    .collect(),
            )
        }
    }

    fn nullable(schema: &Value) -> bool {
        let null = Value::from("null");
        schema["type"].as_array().is_some_and(|t| t.contains(&null))
            || schema["oneOf"]
                .as_array()
                .is_some_and(|o| o.iter().any(|s| s["type"] == null))
    }

    fn schema_shape(doc: &Value, name: &str) -> Shape {
        let schema = &doc["components"]["schemas"][name];
        assert!(schema.is_object(), "{name} is not in the document");
        if let Some(values) = schema["enum"].as_array() {
            return Shape::Enum(
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
            );
        }
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        Shape::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, s)| {
                    let optional = !required.contains(field.as_str());
                    (field.clone(), (optional, nullable(s)))
                })
                .collect(),
        )
    }

    fn same_shape<T: TS + utoipa::ToSchema>(doc: &Value) {
        let name = <T as TS>::name();
        assert_eq!(
            schema_shape(doc, &name),
            ts_shape(&T::decl()),
            "{name}: the OpenAPI schema (left) and the TypeScript type (right) disagree on \
             field names, optional fields or null"
        );
    }

    #[test]
    fn the_schemas_agree_with_the_dashboards_typescript_types() {
        let doc = serde_json::to_value(openapi()).unwrap();
        same_shape::<MediaType>(&doc);
        same_shape::<StreamKind>(&doc);
        same_shape::<OutcomeStatus>(&doc);
        same_shape::<Range>(&doc);
        same_shape::<Markers>(&doc);
        same_shape::<ProviderOutcome>(&doc);
        same_shape::<MediaInfo>(&doc);
        same_shape::<SourceDto>(&doc);
        same_shape::<TileGrid>(&doc);
        same_shape::<ThumbnailsDto>(&doc);
        same_shape::<SubtitleFormat>(&doc);
        same_shape::<SubtitleDto>(&doc);
        same_shape::<ResolveResponse>(&doc);
        same_shape::<ProgressEntry>(&doc);
        same_shape::<ProgressUpdate>(&doc);
        same_shape::<ProgressList>(&doc);
        same_shape::<Metadata>(&doc);
        same_shape::<SeasonSummary>(&doc);
        same_shape::<Season>(&doc);
        same_shape::<Episode>(&doc);
    }

    #[test]
    fn the_typescript_parser_reads_optional_and_nullable_fields() {
        let decl = "type A = { /** doc, with a comma */ a: string, b?: { [key in string]?: string }, \
                    c: number | null, d: Array<X>, };";
        let expected = [
            ("a", (false, false)),
            ("b", (true, false)),
            ("c", (false, true)),
            ("d", (false, false)),
        ]
        .into_iter()
        .map(|(n, f)| (n.to_string(), f))
        .collect();
        assert_eq!(ts_shape(decl), Shape::Object(expected));
        assert_eq!(
            ts_shape("type E = \"movie\" | \"tv\";"),
            Shape::Enum(["movie".to_string(), "tv".to_string()].into())
        );
    }

    /// Like ts-rs next to it, `cargo test` refreshes the copy of the document the dashboard's
    /// renderer is tested with; scripts/test.sh fails when the committed copy is stale.
    #[test]
    fn the_dashboard_test_copy_of_the_document_is_current() {
        let Some(dir) = std::env::var_os("TS_RS_EXPORT_DIR") else {
            return;
        };
        let path = std::path::Path::new(&dir).join("openapi.json");
        let json = openapi().to_pretty_json().unwrap() + "\n";
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, json).unwrap();
        }
    }

    #[test]
    fn every_operation_has_one_of_the_declared_sections_as_its_tag() {
        let doc = openapi();
        let declared: Vec<String> = doc.tags.iter().flatten().map(|t| t.name.clone()).collect();
        let mut used = std::collections::BTreeSet::new();
        for (path, item) in doc.paths.paths.clone().iter_mut() {
            for operation in operations_mut(item) {
                let tags = operation.tags.clone().unwrap_or_default();
                assert_eq!(tags.len(), 1, "{path}: {tags:?}");
                assert!(
                    declared.contains(&tags[0]),
                    "{path}: {tags:?} not in {declared:?}"
                );
                used.insert(tags[0].clone());
            }
        }
        assert_eq!(
            used.len(),
            declared.len(),
            "a declared section has no route"
        );
        assert_eq!(section("/api/streaming/proxy/{name}"), "proxy");
        assert_eq!(
            section("/api/streaming/resolve/{media_type}/{tmdb_id}"),
            "resolve"
        );
        assert_eq!(section("/api/playback/r/{source}/master.m3u8"), "media");
        assert_eq!(section("/readyz"), "operations");
    }

    #[test]
    fn the_token_rule_spares_only_non_api_paths_and_the_signed_proxy() {
        assert!(needs_token("/api/streaming/resolve/{media_type}/{tmdb_id}"));
        assert!(needs_token("/api/openapi.json"));
        assert!(!needs_token("/api/streaming/proxy"));
        assert!(!needs_token("/api/streaming/proxy/{name}"));
        assert!(!needs_token("/healthz"));
    }

    #[test]
    fn the_router_source_registers_every_route_through_its_documentation() {
        // `OpenApiRouter::route` is a pass-through that would add an undocumented route.
        let source = include_str!("mod.rs");
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        for bypass in [".route(", ".route_service(", ".nest_service("] {
            assert!(
                !code.contains(bypass),
                "src/api/mod.rs uses `{bypass}`: register the handler with `.routes(routes!(…))` \
                 and a `#[utoipa::path]` so that /api/openapi.json documents it"
            );
        }
    }
}
