//! `GET /api/openapi.json`: an OpenAPI 3.1 document that lists every route, agrees with the
//! token middleware, and whose schemas describe the JSON the server really sends.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use sokoul::library::demo::{DemoOptions, Synth, synth_args};
use wiremock::ResponseTemplate;

use crate::fake_consumet::{self as fake, TV_ID};
use crate::fake_tmdb;
use crate::helpers::{TestApp, spawn_app};

const TOKEN: &str = "openapi-test-token";

/// Every route of the server. A new route must be added here, on purpose, once it is documented.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/auth/state"),
    ("post", "/api/auth/setup"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("get", "/api/auth/users"),
    ("post", "/api/auth/users"),
    ("put", "/api/auth/users/{username}"),
    ("delete", "/api/auth/users/{username}"),
    ("get", "/api/streaming/proxy"),
    ("options", "/api/streaming/proxy"),
    ("get", "/api/streaming/proxy/{name}"),
    ("options", "/api/streaming/proxy/{name}"),
    ("get", "/api/streaming/resolve/{media_type}/{tmdb_id}"),
    ("get", "/api/streaming/{provider}/{media_type}/{tmdb_id}"),
    ("get", "/api/library/items"),
    ("get", "/api/library/items/{media_type}/{tmdb_id}"),
    ("post", "/api/library/scan"),
    ("get", "/api/library/problems"),
    ("get", "/api/library/poster/{media_type}/{tmdb_id}"),
    ("get", "/api/library/still/tv/{tmdb_id}/{season}/{episode}"),
    ("get", "/api/media/{file_id}/file"),
    ("get", "/api/media/{file_id}/hls/master.m3u8"),
    ("get", "/api/media/{file_id}/hls/{variant}/{name}"),
    ("get", "/api/media/{file_id}/subtitles/{track}"),
    ("get", "/api/media/{file_id}/thumbnails.vtt"),
    ("get", "/api/media/{file_id}/thumbnails/{sheet}"),
    ("get", "/api/playback/r/{source}/master.m3u8"),
    ("get", "/api/playback/r/{source}/{variant}/{name}"),
    ("get", "/api/playback/r/{source}/subtitles"),
    ("get", "/api/playback/r/{source}/subtitles/{track}"),
    ("get", "/api/tokens"),
    ("post", "/api/tokens"),
    ("delete", "/api/tokens/{id}"),
    ("get", "/api/profiles"),
    ("post", "/api/profiles"),
    ("patch", "/api/profiles/{id}"),
    ("delete", "/api/profiles/{id}"),
    ("post", "/api/profiles/{id}/select"),
    ("get", "/api/progress"),
    ("get", "/api/progress/{media_type}/{tmdb_id}"),
    ("put", "/api/progress/{media_type}/{tmdb_id}"),
    ("delete", "/api/progress/{media_type}/{tmdb_id}"),
    ("get", "/api/preferences/languages"),
    ("put", "/api/preferences/languages"),
    ("get", "/api/preferences/series/{tmdb_id}"),
    ("put", "/api/preferences/series/{tmdb_id}"),
    ("get", "/api/metadata/{media_type}/{tmdb_id}"),
    ("get", "/api/metadata/tv/{tmdb_id}/season/{season}"),
    ("get", "/api/search"),
    ("post", "/api/streaming/report"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), operation));
            }
        }
    }
    out
}

/// A concrete URL for a route template, with values every handler accepts.
fn concrete(template: &str) -> String {
    template
        .replace("{media_type}", "movie")
        .replace("{tmdb_id}", "603")
        .replace("{provider}", "library")
        .replace("{file_id}", "1")
        .replace("{variant}", "v0")
        .replace("{name}", "index.m3u8")
        .replace("{track}", "x0.vtt")
        .replace("{season}", "1")
        .replace("{username}", "nobody")
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, format!("{}{}", app.address, path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request reaches the app")
}

#[tokio::test]
async fn the_document_is_openapi_3_and_lists_every_route_once() {
    let app = spawn_app(|_| {}).await;
    let doc = document(&app).await;

    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_string()),
            "{method} {path}: operationId '{id}' is not unique"
        );
        assert!(
            operation["summary"].is_string(),
            "{method} {path} has no summary"
        );
        // Every parameter of the template is described, and described as required.
        let params = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            let param = params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "path")
                .unwrap_or_else(|| panic!("{method} {path}: path parameter {name} undocumented"));
            assert_eq!(param["required"], true, "{method} {path}: {name}");
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app(|_| {}).await;
    let doc = document(&app).await;

    for (method, path, _) in operations(&doc) {
        let url = concrete(&path);
        let r = send(&app, &method, &url, None).await;
        let status = r.status().as_u16();
        assert_ne!(
            status, 405,
            "{method} {url}: documented but not routed for this method"
        );
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["code"], "not_found",
            "{method} {url}: documented but the router has no such route"
        );
    }
}

#[tokio::test]
async fn the_document_marks_exactly_the_routes_that_need_the_token() {
    let app = spawn_app(|s| s.api_token = Some(sokoul::config::Secret::new(TOKEN))).await;

    let r = app.get("/api/openapi.json").await;
    assert_eq!(
        r.status(),
        401,
        "the document is under the token like the rest of /api"
    );
    let doc: Value = send(&app, "get", "/api/openapi.json", Some(TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let session = &doc["components"]["securitySchemes"]["session"];
    assert_eq!(session["type"], "apiKey");
    assert_eq!(session["in"], "cookie");
    assert_eq!(session["name"], "sokoul_session");

    for (method, path, operation) in operations(&doc) {
        let secured = operation["security"]
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearer").is_some()));
        let with_session = operation["security"]
            .as_array()
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("session").is_some()));
        assert_eq!(
            secured, with_session,
            "{method} {path}: either scheme, or none"
        );
        let url = concrete(&path);
        let status = send(&app, &method, &url, None).await.status().as_u16();
        if secured {
            assert_eq!(
                status, 401,
                "{method} {url} is documented as needing the token"
            );
            assert_eq!(
                operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
        } else {
            assert_ne!(status, 401, "{method} {url} is documented as public");
        }
    }
}

#[tokio::test]
async fn every_error_response_uses_the_error_schema() {
    let app = spawn_app(|_| {}).await;
    let doc = document(&app).await;

    let error_body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error_body["required"], json!(["error"]));
    let detail = resolve_ref(&doc, &error_body["properties"]["error"]);
    assert_eq!(detail["required"], json!(["code", "message"]));

    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            // 416 carries the upstream's or tower-http's own empty body.
            if !status.starts_with(['4', '5']) || status == "416" {
                continue;
            }
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
    }
    // And a real error answer conforms to it.
    let body = app.get_json("/api/streaming/resolve/movie/abc", 400).await;
    assert_conforms(
        &doc,
        &json!({"$ref": "#/components/schemas/ErrorBody"}),
        &body,
    );
}

async fn consumet_app() -> (wiremock::MockServer, TestApp) {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        TV_ID,
        "tv",
        ResponseTemplate::new(200).set_body_json(fake::tv_info()),
    )
    .await;
    // URLs with an expiry, so that `expires_at` is part of the answer too.
    fake::mount_watch(
        &consumet,
        "1002",
        ResponseTemplate::new(200).set_body_json(fake::watch("s1e2", Some(3600))),
    )
    .await;
    let uri = consumet.uri();
    let app = spawn_app(move |s| s.consumet.url = Some(uri)).await;
    (consumet, app)
}

#[tokio::test]
async fn a_real_resolve_answer_matches_the_resolve_schema() {
    let (_consumet, app) = consumet_app().await;
    let doc = document(&app).await;
    let operation = &doc["paths"]["/api/streaming/resolve/{media_type}/{tmdb_id}"]["get"];
    let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(schema["$ref"], "#/components/schemas/ResolveResponse");

    let url = format!("/api/streaming/resolve/tv/{TV_ID}?season=1&episode=2");
    let fresh = app.get_json(&url, 200).await;
    // The answer exercises the optional parts of the schema, so none goes unchecked.
    let source = &fresh["sources"][0];
    for key in ["proxy_url", "expires_at", "headers"] {
        assert!(source.get(key).is_some(), "{key} missing in {source}");
    }
    assert!(fresh["markers"]["intro"].is_object(), "{fresh}");
    assert!(fresh["subtitles"][0]["proxy_url"].is_string(), "{fresh}");
    assert!(fresh["media"]["season"].is_number(), "{fresh}");
    assert_conforms(&doc, schema, &fresh);

    // A cache hit is rendered by another path (pre-rendered bytes): same schema.
    let cached = app.get_json(&url, 200).await;
    assert_eq!(cached["cached"], true);
    assert_conforms(&doc, schema, &cached);
}

#[tokio::test]
async fn real_progress_health_and_metadata_answers_match_their_schemas() {
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    let base = fake_tmdb::base_url(&tmdb);
    let app = spawn_app(move |s| {
        s.tmdb.base_url = base;
        s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
    })
    .await;
    let doc = document(&app).await;
    let body_of = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            .clone()
    };

    let saved = app
        .client
        .put(format!(
            "{}/api/progress/tv/1396?season=1&episode=2",
            app.address
        ))
        .json(&json!({"position": 61.5, "duration": 2820.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 204);
    let movie = app
        .client
        .put(format!("{}/api/progress/movie/603", app.address))
        .json(&json!({"position": 10.0, "duration": 8160.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(movie.status(), 204);
    let checks = [
        ("/api/progress", "/api/progress"),
        (
            "/api/progress/{media_type}/{tmdb_id}",
            "/api/progress/tv/1396?season=1&episode=2",
        ),
        (
            "/api/progress/{media_type}/{tmdb_id}",
            "/api/progress/movie/603",
        ),
        ("/readyz", "/readyz"),
        ("/healthz", "/healthz"),
        (
            "/api/metadata/{media_type}/{tmdb_id}",
            "/api/metadata/movie/603",
        ),
        (
            "/api/metadata/{media_type}/{tmdb_id}",
            "/api/metadata/tv/1396",
        ),
        (
            "/api/metadata/tv/{tmdb_id}/season/{season}",
            "/api/metadata/tv/1396/season/1",
        ),
    ];
    for (template, url) in checks {
        let body = app.get_json(url, 200).await;
        assert_conforms(&doc, &body_of(template, "get", "200"), &body);
    }
    let request_body = &doc["paths"]["/api/progress/{media_type}/{tmdb_id}"]["put"]["requestBody"];
    assert_eq!(
        request_body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProgressUpdate"
    );
}

/// A two-second H.264/AAC MP4 made by ffmpeg.
fn tiny_video(dest: &std::path::Path) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let options = DemoOptions {
        seconds: 2,
        width: 160,
        height: 90,
    };
    let status = std::process::Command::new("ffmpeg")
        .args(synth_args(Synth::H264AacMp4, options, dest))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {}", dest.display());
}

#[tokio::test]
async fn real_library_answers_match_their_schemas() {
    let root = tempfile::tempdir().unwrap();
    let film = root.path().join("Heat (1995) [tmdbid-949]/Heat (1995).mp4");
    tiny_video(&film);
    let episode = root
        .path()
        .join("Show (2010) [tmdbid-100]/Season 01/Show S01E01 - Pilot.mp4");
    std::fs::create_dir_all(episode.parent().unwrap()).unwrap();
    std::fs::copy(&film, &episode).unwrap();
    // Not a video: a scan problem.
    let broken = root.path().join("Broken (2001) [tmdbid-5]");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("Broken (2001).mkv"), b"not a video").unwrap();
    let library = root.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.library.enabled = true;
        s.library.paths = vec![library];
        s.library.watch = false;
        s.library.scan_on_start = false;
    })
    .await;
    let doc = document(&app).await;
    let schema_of = |path: &str, method: &str| {
        doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
            .clone()
    };

    let scan = send(&app, "post", "/api/library/scan", None).await;
    assert_eq!(scan.status(), 200);
    let summary: Value = scan.json().await.unwrap();
    assert_eq!(summary["added"], 2, "{summary}");
    assert_eq!(
        summary["failed"].as_array().map(Vec::len),
        Some(1),
        "{summary}"
    );
    assert_conforms(&doc, &schema_of("/api/library/scan", "post"), &summary);
    let checks = [
        ("/api/library/items", "/api/library/items"),
        (
            "/api/library/items/{media_type}/{tmdb_id}",
            "/api/library/items/movie/949",
        ),
        (
            "/api/library/items/{media_type}/{tmdb_id}",
            "/api/library/items/tv/100",
        ),
        ("/api/library/problems", "/api/library/problems"),
        // With a provider this time.
        ("/readyz", "/readyz"),
        (
            "/api/streaming/resolve/{media_type}/{tmdb_id}",
            "/api/streaming/resolve/tv/100?season=1&episode=1",
        ),
        (
            "/api/streaming/{provider}/{media_type}/{tmdb_id}",
            "/api/streaming/library/movie/949",
        ),
    ];
    for (template, url) in checks {
        let body = app.get_json(url, 200).await;
        assert_conforms(&doc, &schema_of(template, "get"), &body);
    }
}

#[tokio::test]
async fn the_documentation_page_is_a_dashboard_page_not_an_api_route() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Sokoul</title>",
    )
    .unwrap();
    let dashboard = dir.path().to_path_buf();
    let app = spawn_app(move |s| s.dashboard_dir = dashboard).await;

    let page = app.get("/api-docs").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>Sokoul"));
    let doc = app.get("/api/openapi.json").await;
    assert_eq!(doc.headers()["content-type"], "application/json");
}

// ---- A small schema checker: enough of JSON Schema for what utoipa emits, and stricter than
// JSON Schema on one point: an object key the schema does not declare is an error, because a
// field missing from the document is exactly the drift these tests look for.

fn resolve_ref<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {r}");
            resolve_ref(doc, target)
        }
        None => schema,
    }
}

fn assert_conforms(doc: &Value, schema: &Value, value: &Value) {
    let mut errors = Vec::new();
    check(doc, schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "the answer does not match the documented schema:\n{}\nanswer: {value:#}",
        errors.join("\n")
    );
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// Properties and required names of an object schema, through `$ref` and `allOf`.
fn object_view(
    doc: &Value,
    schema: &Value,
    props: &mut serde_json::Map<String, Value>,
    required: &mut Vec<String>,
) {
    let schema = resolve_ref(doc, schema);
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            object_view(doc, part, props, required);
        }
    }
    if let Some(p) = schema["properties"].as_object() {
        props.extend(p.clone());
    }
    if let Some(r) = schema["required"].as_array() {
        required.extend(r.iter().filter_map(|n| n.as_str().map(String::from)));
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve_ref(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let any = options.iter().any(|option| {
                let mut e = Vec::new();
                check(doc, option, value, at, &mut e);
                e.is_empty()
            });
            if !any {
                errors.push(format!("{at}: matches none of {key}"));
            }
            return;
        }
    }
    match &schema["type"] {
        Value::String(t) if !type_matches(t, value) => {
            errors.push(format!("{at}: {value} is not {t}"));
            return;
        }
        Value::Array(ts)
            if !ts
                .iter()
                .any(|t| type_matches(t.as_str().unwrap_or(""), value)) =>
        {
            errors.push(format!("{at}: {value} is none of {ts:?}"));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Value::Array(items) = value {
        for (i, item) in items.iter().enumerate() {
            check(doc, &schema["items"], item, &format!("{at}[{i}]"), errors);
        }
    }
    if let Value::Object(fields) = value {
        let mut props = serde_json::Map::new();
        let mut required = Vec::new();
        object_view(doc, schema, &mut props, &mut required);
        let extra = &schema["additionalProperties"];
        for name in &required {
            if !fields.contains_key(name) {
                errors.push(format!("{at}: required '{name}' is missing"));
            }
        }
        for (name, field) in fields {
            let path = format!("{at}.{name}");
            match props.get(name) {
                Some(p) => check(doc, p, field, &path, errors),
                None if extra.is_object() => check(doc, extra, field, &path, errors),
                None => errors.push(format!("{path}: not in the documented schema")),
            }
        }
    }
}

#[test]
fn the_checker_catches_an_undocumented_field_a_missing_one_and_a_wrong_type() {
    let doc = json!({"components": {"schemas": {
        "A": {"type": "object", "required": ["n"], "properties": {
            "n": {"type": "integer"}, "o": {"type": ["string", "null"]}}}
    }}});
    let schema = json!({"$ref": "#/components/schemas/A"});
    let mut e = Vec::new();
    check(&doc, &schema, &json!({"n": 1, "o": null}), "$", &mut e);
    assert!(e.is_empty(), "{e:?}");
    for bad in [
        json!({"n": 1, "x": 2}),
        json!({"o": "s"}),
        json!({"n": "1"}),
    ] {
        let mut e = Vec::new();
        check(&doc, &schema, &bad, "$", &mut e);
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
    }
}
