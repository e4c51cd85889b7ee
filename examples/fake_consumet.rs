//! A stand-in Consumet instance for benchmarks and the browser end-to-end tests, answering
//! with the documented shapes (`protocols.md` §1) for any TMDB id.
//!
//! `cargo run --release --example fake_consumet -- --port 3999 --delay-ms 0 --cdn http://127.0.0.1:8088`
//! Sources point at `{cdn}/{tmdb_id}/master.m3u8` with a `Referer` header.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Clone)]
struct Config {
    delay: Duration,
    cdn: String,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(3999);
    let config = Config {
        delay: Duration::from_millis(arg("--delay-ms").and_then(|d| d.parse().ok()).unwrap_or(0)),
        cdn: arg("--cdn").unwrap_or_else(|| "https://cdn.example".into()),
    };
    let app = Router::new()
        .route("/", get(|| async { "Welcome to consumet api!" }))
        .route("/meta/tmdb/info/{id}", get(info))
        .route("/meta/tmdb/watch/{episode}", get(watch))
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
) -> Json<Value> {
    tokio::time::sleep(c.delay).await;
    if q.get("type").map(String::as_str) == Some("movie") {
        Json(
            json!({"id": format!("movie/watch-title-{id}"), "title": format!("Title {id}"), "episodeId": id.to_string()}),
        )
    } else {
        let episodes: Vec<Value> = (1..=10)
            .map(|e| json!({"id": format!("{id}-1-{e}"), "title": format!("Episode {e}"), "episode": e, "season": 1}))
            .collect();
        Json(
            json!({"id": format!("tv/watch-title-{id}"), "title": format!("Show {id}"),
            "seasons": [{"season": 1, "isReleased": true, "episodes": episodes}]}),
        )
    }
}

async fn watch(State(c): State<Config>, Path(episode): Path<String>) -> Json<Value> {
    tokio::time::sleep(c.delay).await;
    let base = format!("{}/{episode}", c.cdn);
    Json(json!({
        "headers": {"Referer": "https://embed.example/e/1"},
        "sources": [
            {"url": format!("{base}/master.m3u8"), "quality": "auto", "isM3U8": true},
            {"url": format!("{base}/720/index.m3u8"), "quality": "720p", "isM3U8": true}
        ],
        "subtitles": [{"url": format!("{base}/en.vtt"), "lang": "English"}],
        "intro": {"start": 5, "end": 12}
    }))
}
