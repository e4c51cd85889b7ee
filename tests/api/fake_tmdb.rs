//! A fake TMDB v3 API (wiremock) with the documented routes, fields and error bodies of
//! `protocols.md` §5: `{"success":false,"status_code":N,"status_message":"…"}` with 401 (7),
//! 404 (34) and 429 (25, with `Retry-After`). Every route checks the key: the v3 key in
//! `api_key=` or the read-access token as `Authorization: Bearer`.

use serde_json::{Value, json};
use wiremock::matchers::{any, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const KEY: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJzb2tvdWwtdGVzdCJ9.c2lnbmF0dXJl";

pub(crate) const MATRIX: u32 = 603;
pub(crate) const MATRIX_IMDB: &str = "tt0133093";
pub(crate) const BREAKING_BAD: u32 = 1396;
pub(crate) const BREAKING_BAD_IMDB: &str = "tt0903747";

pub(crate) fn matrix() -> Value {
    json!({
        "adult": false, "id": MATRIX, "imdb_id": MATRIX_IMDB, "title": "The Matrix",
        "original_title": "The Matrix", "release_date": "1999-03-30", "runtime": 136,
        "overview": "Set in the 22nd century, The Matrix tells the story of a computer hacker…",
        "poster_path": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
        "backdrop_path": "/ncEsesgOJDNrTUED89hYbA117wo.jpg",
        "genres": [{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}],
        "vote_average": 8.2, "vote_count": 26000,
        "external_ids": {"imdb_id": MATRIX_IMDB, "wikidata_id": "Q83495"}
    })
}

pub(crate) fn breaking_bad() -> Value {
    json!({
        "id": BREAKING_BAD, "name": "Breaking Bad", "first_air_date": "2008-01-20",
        "overview": "Walter White, a New Mexico chemistry teacher…",
        "poster_path": "/ztkUQFLlC19CCMYHW9o1zWhJRNq.jpg", "backdrop_path": "/tsRy63Mu5cu8etL1X7ZLyf7UYyq.jpg",
        "number_of_seasons": 5, "number_of_episodes": 62, "episode_run_time": [45],
        "genres": [{"id": 18, "name": "Drama"}, {"id": 80, "name": "Crime"}],
        "vote_average": 8.9, "vote_count": 15000,
        "seasons": [
            {"air_date": "2009-02-17", "episode_count": 9, "id": 3577, "name": "Specials", "poster_path": "/s0.jpg", "season_number": 0},
            {"air_date": "2008-01-20", "episode_count": 7, "id": 3572, "name": "Season 1", "poster_path": "/s1.jpg", "season_number": 1},
            {"air_date": "2009-03-08", "episode_count": 13, "id": 3573, "name": "Season 2", "poster_path": null, "season_number": 2}
        ],
        "external_ids": {"imdb_id": BREAKING_BAD_IMDB, "tvdb_id": 81189}
    })
}

pub(crate) fn breaking_bad_season_1() -> Value {
    json!({
        "_id": "5256c89f19c2956ff6046d47", "air_date": "2008-01-20", "name": "Season 1",
        "overview": "High school chemistry teacher Walter White's life is suddenly transformed…",
        "id": 3572, "poster_path": "/s1.jpg", "season_number": 1,
        "episodes": [
            {"air_date": "2008-01-20", "episode_number": 1, "id": 62085, "name": "Pilot",
             "overview": "When an unassuming high school chemistry teacher…", "runtime": 58,
             "season_number": 1, "still_path": "/ydlY3iPfeOAvu8gVqrxPoMvzNCn.jpg", "vote_average": 8.3},
            {"air_date": "2008-01-27", "episode_number": 2, "id": 62086, "name": "Cat's in the Bag...",
             "overview": "Walt and Jesse attempt to tie up loose ends.", "runtime": 48,
             "season_number": 1, "still_path": null, "vote_average": 8.2}
        ]
    })
}

/// `/3/search/multi?query=matrix`: a film, a series and a person, as TMDB mixes them.
pub(crate) fn search_matrix() -> Value {
    json!({
        "page": 1, "total_pages": 1, "total_results": 3,
        "results": [
            {"adult": false, "backdrop_path": "/ncEsesgOJDNrTUED89hYbA117wo.jpg", "id": MATRIX,
             "title": "The Matrix", "original_language": "en", "original_title": "The Matrix",
             "overview": "Set in the 22nd century…", "poster_path": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
             "media_type": "movie", "genre_ids": [28, 878], "popularity": 90.1,
             "release_date": "1999-03-30", "video": false, "vote_average": 8.2, "vote_count": 26000},
            {"adult": false, "id": 1256, "name": "Matrix", "original_name": "Matrix",
             "overview": "Steven Matrix, a hitman…", "poster_path": null, "media_type": "tv",
             "first_air_date": "1993-03-01", "origin_country": ["CA"], "vote_average": 6.9},
            {"adult": false, "id": 6384, "name": "Keanu Reeves", "media_type": "person",
             "known_for_department": "Acting", "profile_path": "/4D0PpNI0kmP58hgrwGC3wCjxhnm.jpg"}
        ]
    })
}

pub(crate) fn error(http: u16, status_code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(http).set_body_json(
        json!({"success": false, "status_code": status_code, "status_message": message}),
    )
}

pub(crate) fn unauthorized() -> ResponseTemplate {
    error(401, 7, "Invalid API key: You must be granted a valid key.")
}

pub(crate) fn not_found() -> ResponseTemplate {
    error(404, 34, "The resource you requested could not be found.")
}

pub(crate) fn rate_limited(retry_after_secs: u64) -> ResponseTemplate {
    error(
        429,
        25,
        "Your request count (51) is over the allowed limit of (50).",
    )
    .insert_header("Retry-After", retry_after_secs.to_string().as_str())
}

/// A fake whose routes answer only to the right v3 key or token; anything else is a 401,
/// and an unknown id is TMDB's 404.
pub(crate) async fn start() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(unauthorized())
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// Mounts `body` at `route` (e.g. `/3/movie/603`) for both ways of authenticating.
pub(crate) async fn mount(server: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(query_param("api_key", KEY))
        .respond_with(response.clone())
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(route))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(response)
        .with_priority(5)
        .mount(server)
        .await;
}

/// The Matrix, Breaking Bad and its first season; any other authenticated path is a 404.
pub(crate) async fn mount_catalogue(server: &MockServer) {
    mount(
        server,
        &format!("/3/movie/{MATRIX}"),
        ResponseTemplate::new(200).set_body_json(matrix()),
    )
    .await;
    mount(
        server,
        &format!("/3/tv/{BREAKING_BAD}"),
        ResponseTemplate::new(200).set_body_json(breaking_bad()),
    )
    .await;
    mount(
        server,
        &format!("/3/tv/{BREAKING_BAD}/season/1"),
        ResponseTemplate::new(200).set_body_json(breaking_bad_season_1()),
    )
    .await;
    for auth in [
        Mock::given(query_param("api_key", KEY)),
        Mock::given(header("Authorization", format!("Bearer {TOKEN}").as_str())),
    ] {
        auth.respond_with(not_found())
            .with_priority(100)
            .mount(server)
            .await;
    }
}

/// The base URL to configure (`tmdb.base_url`).
pub(crate) fn base_url(server: &MockServer) -> String {
    format!("{}/3", server.uri())
}
