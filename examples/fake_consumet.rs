//! A stand-in Consumet instance for benchmarks and the browser end-to-end tests, answering
//! with the documented shapes (`protocols.md` §1) for any TMDB id.
//!
//! `cargo run --release --example fake_consumet -- --port 3999 [--delay-ms 0] [--cdn URL] [--media DIR]`
//!
//! - Sources point at `{cdn}/{episode_id}/master.m3u8` with a `Referer` header.
//! - With `--media DIR`, it is also the CDN: `/cdn/{episode_id}/{file}` serves `DIR/{file}`
//!   only to requests carrying that `Referer` (403 otherwise, as real CDNs do), and the
//!   default `--cdn` becomes itself. TMDB id 403 gets a first source that always answers 403
//!   (the player must fall back to the next one); TMDB id 404 gets Fastify's 500 "status code
//!   404" (nothing found anywhere).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Clone)]
struct Config {
    delay: Duration,
    cdn: String,
    media: Option<std::path::PathBuf>,
}

const REFERER: &str = "https://embed.example/e/1";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(3999);
    let media = arg("--media").map(std::path::PathBuf::from);
    let default_cdn = if media.is_some() {
        format!("http://127.0.0.1:{port}/cdn")
    } else {
        "https://cdn.example".into()
    };
    let config = Config {
        delay: Duration::from_millis(arg("--delay-ms").and_then(|d| d.parse().ok()).unwrap_or(0)),
        cdn: arg("--cdn").unwrap_or(default_cdn),
        media,
    };
    let app = Router::new()
        .route("/", get(|| async { "Welcome to consumet api!" }))
        .route("/meta/tmdb/info/{id}", get(info))
        .route("/meta/tmdb/watch/{episode}", get(watch))
        .route("/cdn/{episode}/{*file}", get(cdn))
        .with_state(config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("fake consumet on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("serve");
}

async fn info(
    State(c): State<Config>,
    Path(id): Path<u32>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    tokio::time::sleep(c.delay).await;
    if id == 404 {
        let body = json!({"statusCode": 500, "error": "Internal Server Error", "message": "Request failed with status code 404"});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    }
    Json(info_body(id, &q)).into_response()
}

fn info_body(id: u32, q: &std::collections::HashMap<String, String>) -> Value {
    if q.get("type").map(String::as_str) == Some("movie") {
        json!({"id": format!("movie/watch-title-{id}"), "title": format!("Title {id}"), "episodeId": id.to_string()})
    } else {
        let episodes: Vec<Value> = (1..=10)
            .map(|e| json!({"id": format!("{id}-1-{e}"), "title": format!("Episode {e}"), "episode": e, "season": 1}))
            .collect();
        json!({"id": format!("tv/watch-title-{id}"), "title": format!("Show {id}"),
            "seasons": [{"season": 1, "isReleased": true, "episodes": episodes}]})
    }
}

async fn watch(State(c): State<Config>, Path(episode): Path<String>) -> Json<Value> {
    tokio::time::sleep(c.delay).await;
    let base = format!("{}/{episode}", c.cdn);
    // The first (best-ranked) source of title 403 is refused by the CDN.
    let first = if episode == "403" {
        format!("{}/forbidden/master.m3u8", c.cdn)
    } else {
        format!("{base}/master.m3u8")
    };
    Json(json!({
        "headers": {"Referer": REFERER},
        "sources": [
            {"url": first, "quality": "auto", "isM3U8": true},
            {"url": format!("{base}/index.m3u8"), "quality": "720p", "isM3U8": true}
        ],
        "subtitles": [{"url": format!("{base}/en.vtt"), "lang": "English"}],
        "intro": {"start": 5, "end": 12}
    }))
}

/// A CDN that, like the real ones behind Consumet, refuses requests without the embed's Referer.
async fn cdn(
    State(c): State<Config>,
    Path((episode, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(dir) = &c.media else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let referer_ok = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) == Some(REFERER);
    if episode == "forbidden" || !referer_ok || file.contains("..") {
        return (StatusCode::FORBIDDEN, "Sorry, you have been blocked").into_response();
    }
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => {
            let ct = if file.ends_with(".m3u8") {
                "application/vnd.apple.mpegurl"
            } else if file.ends_with(".vtt") {
                "text/vtt"
            } else {
                "video/mp2t"
            };
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
