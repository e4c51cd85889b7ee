//! A fake Consumet instance (wiremock) answering with the documented shapes of
//! `protocols.md` §1, including its real error bodies.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const MOVIE_ID: u32 = 872585;
pub(crate) const TV_ID: u32 = 1396;
pub(crate) const REFERER: &str = "https://megacloud.blog/embed-2/v3/e-1/AbC123?k=1";

pub(crate) fn movie_info() -> Value {
    json!({
        "id": "movie/watch-oppenheimer-98446",
        "title": "Oppenheimer",
        "episodeId": "98446",
        "type": "Movie",
        "image": "https://image.tmdb.org/t/p/original/x.jpg",
        "mappings": {"tmdb": MOVIE_ID, "imdb": "tt15398776"},
        "similar": [], "recommendations": []
    })
}

pub(crate) fn tv_info() -> Value {
    json!({
        "id": "tv/watch-breaking-bad-39506",
        "title": "Breaking Bad",
        "type": "TV Series",
        "totalSeasons": 2,
        "seasons": [
            {"season": 1, "isReleased": true, "image": {"mobile": "m", "hd": "h"}, "episodes": [
                {"id": "1001", "title": "Pilot", "episode": 1, "season": 1, "releaseDate": "2008-01-20"},
                {"id": "1002", "title": "Cat's in the Bag...", "episode": 2, "season": 1},
                {"title": "...And the Bag's in the River", "episode": 3, "season": 1}
            ]},
            {"season": 2, "isReleased": true, "episodes": [
                {"id": "2001", "title": "Seven Thirty-Seven", "episode": 1, "season": 2}
            ]}
        ]
    })
}

/// A watch answer whose URLs expire `expires_in` seconds from now (None: no expiry).
pub(crate) fn watch(tag: &str, expires_in: Option<i64>) -> Value {
    let q = match expires_in {
        Some(s) => format!(
            "?expires={}",
            time::OffsetDateTime::now_utc().unix_timestamp() + s
        ),
        None => String::new(),
    };
    json!({
        "headers": {"Referer": REFERER},
        "sources": [
            {"url": format!("https://cdn.example/{tag}/720/index.m3u8{q}"), "quality": "720p", "isM3U8": true},
            {"url": format!("https://cdn.example/{tag}/master.m3u8{q}"), "quality": "auto", "isM3U8": true},
            {"url": format!("https://cdn.example/{tag}/1080/index.m3u8{q}"), "quality": "1080p", "isM3U8": true}
        ],
        "subtitles": [
            {"url": format!("https://cdn.example/{tag}/en.vtt"), "lang": "English"},
            {"url": "https://cdn.example/thumbnails.vtt", "lang": "thumbnails"}
        ],
        "intro": {"start": 30, "end": 95.5},
        "outro": {"start": 1302, "end": 1380}
    })
}

pub(crate) fn fastify_500(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(
        json!({"statusCode": 500, "error": "Internal Server Error", "message": message}),
    )
}

pub(crate) fn watch_failed() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": {}}))
}

pub(crate) async fn start() -> MockServer {
    MockServer::start().await
}

pub(crate) async fn mount_info(
    server: &MockServer,
    id: u32,
    kind: &str,
    response: ResponseTemplate,
) {
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/info/{id}")))
        .and(query_param("type", kind))
        .respond_with(response)
        .mount(server)
        .await;
}

pub(crate) async fn mount_watch(server: &MockServer, episode_id: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/watch/{episode_id}")))
        .respond_with(response)
        .mount(server)
        .await;
}
