//! TMDB metadata (`/api/metadata/…`) against a fake TMDB: both kinds of credentials,
//! caching per media type, and TMDB's 401, 404 and 429 with `Retry-After`.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_tmdb::{self as fake, BREAKING_BAD, MATRIX};
use crate::helpers::{TestApp, spawn_app};

async fn app_with(tmdb: &MockServer, key: &str) -> TestApp {
    let base = fake::base_url(tmdb);
    let key = key.to_string();
    spawn_app(move |s| {
        s.tmdb.base_url = base;
        s.tmdb.key = Some(sokoul::config::Secret::new(key));
    })
    .await
}

#[tokio::test]
async fn a_film_has_its_title_year_overview_images_imdb_id_genres_runtime_and_rating() {
    let tmdb = fake::start().await;
    fake::mount_catalogue(&tmdb).await;
    let app = app_with(&tmdb, fake::KEY).await;

    let body = app.get_json("/api/metadata/movie/603", 200).await;

    assert_eq!(body["media_type"], "movie");
    assert_eq!(body["tmdb_id"], MATRIX);
    assert_eq!(body["title"], "The Matrix");
    assert_eq!(body["year"], 1999);
    assert!(body["overview"].as_str().unwrap().starts_with("Set in"));
    assert_eq!(
        body["poster_url"],
        "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    );
    assert_eq!(
        body["backdrop_url"],
        "https://image.tmdb.org/t/p/w1280/ncEsesgOJDNrTUED89hYbA117wo.jpg"
    );
    assert_eq!(body["imdb_id"], fake::MATRIX_IMDB);
    assert!(body.get("seasons").is_none(), "a film has no seasons");
    assert_eq!(
        body["genres"],
        json!([{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}])
    );
    assert_eq!(body["runtime"], 136, "minutes");
    assert!(
        (body["rating"].as_f64().unwrap() - 8.2).abs() < 1e-4,
        "{body}"
    );
}

/// Issue 19: the dashboard asks TMDB in the interface's language. What TMDB has not translated
/// (an empty overview) comes from the default language rather than showing nothing; requests
/// without a language (the providers', which match English titles) send none.
#[tokio::test]
async fn metadata_comes_in_the_viewers_language_with_untranslated_synopses_in_english() {
    use wiremock::matchers::query_param;
    let tmdb = fake::start().await;
    fake::mount_catalogue(&tmdb).await;
    let french = |route: String, body: serde_json::Value| {
        Mock::given(method("GET"))
            .and(path(route))
            .and(query_param("language", "fr"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(1)
    };
    let mut matrix = fake::matrix();
    matrix["title"] = json!("Matrix");
    matrix["overview"] = json!("Programmeur le jour, pirate la nuit, Thomas Anderson…");
    matrix["genres"] = json!([{"id": 28, "name": "Action"}]);
    french(format!("/3/movie/{MATRIX}"), matrix)
        .mount(&tmdb)
        .await;
    let mut series = fake::breaking_bad();
    series["overview"] = json!("");
    french(format!("/3/tv/{BREAKING_BAD}"), series)
        .mount(&tmdb)
        .await;
    let mut season = fake::breaking_bad_season_1();
    season["episodes"][0]["overview"] = json!("Walter White, professeur de chimie…");
    season["episodes"][1]["name"] = json!("Le Chat est dans le sac");
    season["episodes"][1]["overview"] = json!("");
    french(format!("/3/tv/{BREAKING_BAD}/season/1"), season)
        .mount(&tmdb)
        .await;
    let app = app_with(&tmdb, fake::KEY).await;

    let film = app
        .get_json("/api/metadata/movie/603?language=fr", 200)
        .await;
    assert_eq!(film["title"], "Matrix");
    assert!(
        film["overview"]
            .as_str()
            .unwrap()
            .starts_with("Programmeur"),
        "{film}"
    );
    let english = app.get_json("/api/metadata/movie/603", 200).await;
    assert_eq!(
        english["title"], "The Matrix",
        "each language is its own cache entry"
    );

    let show = app.get_json("/api/metadata/tv/1396?language=FR", 200).await;
    assert!(
        show["overview"]
            .as_str()
            .unwrap()
            .starts_with("Walter White, a New Mexico"),
        "{show}"
    );
    let episodes = app
        .get_json("/api/metadata/tv/1396/season/1?language=fr", 200)
        .await["episodes"]
        .clone();
    assert!(
        episodes[0]["overview"]
            .as_str()
            .unwrap()
            .starts_with("Walter White, professeur")
    );
    assert_eq!(episodes[1]["name"], "Le Chat est dans le sac");
    assert_eq!(
        episodes[1]["overview"],
        "Walt and Jesse attempt to tie up loose ends."
    );

    let sent: Vec<Option<String>> = tmdb
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "language")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(
        sent.iter().filter(|l| l.as_deref() == Some("fr")).count(),
        3,
        "one French request per title and season: {sent:?}"
    );
    assert!(
        sent.iter()
            .all(|l| matches!(l.as_deref(), None | Some("fr"))),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_v3_key_goes_in_the_query_and_a_read_access_token_in_a_bearer_header() {
    for (key, in_query) in [(fake::KEY, true), (fake::TOKEN, false)] {
        let tmdb = fake::start().await;
        fake::mount_catalogue(&tmdb).await;
        let app = app_with(&tmdb, key).await;

        app.get_json("/api/metadata/movie/603", 200).await;

        let requests = tmdb.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        let query = r.url.query().unwrap_or("");
        assert_eq!(query.contains(fake::KEY), in_query, "{query}");
        assert!(!query.contains(fake::TOKEN), "a token never goes in a URL");
        assert_eq!(
            r.headers.get("authorization").is_some(),
            !in_query,
            "Bearer only for a read-access token"
        );
        assert!(query.contains("append_to_response=external_ids"), "{query}");
    }
}

#[tokio::test]
async fn a_series_lists_its_seasons_and_a_season_lists_its_episodes() {
    let tmdb = fake::start().await;
    fake::mount_catalogue(&tmdb).await;
    let app = app_with(&tmdb, fake::TOKEN).await;

    let series = app.get_json("/api/metadata/tv/1396", 200).await;
    assert_eq!(series["title"], "Breaking Bad");
    assert_eq!(series["year"], 2008);
    assert_eq!(series["imdb_id"], fake::BREAKING_BAD_IMDB);
    assert_eq!(
        series["seasons"][1],
        json!({"season": 1, "name": "Season 1", "episode_count": 7, "air_date": "2008-01-20",
               "poster_url": "https://image.tmdb.org/t/p/w342/s1.jpg"})
    );
    assert_eq!(series["seasons"][0]["name"], "Specials");
    assert_eq!(
        series["runtime"], 45,
        "the usual episode length, from episode_run_time"
    );
    assert_eq!(series["genres"][0], json!({"id": 18, "name": "Drama"}));
    assert!((series["rating"].as_f64().unwrap() - 8.9).abs() < 1e-4);

    let season = app.get_json("/api/metadata/tv/1396/season/1", 200).await;
    assert_eq!(season["tmdb_id"], BREAKING_BAD);
    assert_eq!(season["season"], 1);
    let episodes = season["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    assert_eq!(
        episodes[0],
        json!({"season": 1, "episode": 1, "name": "Pilot",
               "overview": "When an unassuming high school chemistry teacher…",
               "air_date": "2008-01-20", "runtime": 58,
               "still_url": "https://image.tmdb.org/t/p/w300/ydlY3iPfeOAvu8gVqrxPoMvzNCn.jpg"})
    );
    assert!(episodes[1].get("still_url").is_none());
}

#[tokio::test]
async fn answers_are_cached_per_media_type_because_movie_and_tv_ids_overlap() {
    let tmdb = fake::start().await;
    Mock::given(method("GET"))
        .and(path("/3/movie/1396"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"title": "A Film 1396"})))
        .expect(1)
        .mount(&tmdb)
        .await;
    Mock::given(method("GET"))
        .and(path("/3/tv/1396"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::breaking_bad()))
        .expect(1)
        .mount(&tmdb)
        .await;
    let app = app_with(&tmdb, fake::KEY).await;

    for _ in 0..3 {
        let film = app.get_json("/api/metadata/movie/1396", 200).await;
        let series = app.get_json("/api/metadata/tv/1396", 200).await;
        assert_eq!(film["title"], "A Film 1396");
        assert_eq!(series["title"], "Breaking Bad");
    }
    // `expect(1)` on each route is verified when the fake drops.
}

#[tokio::test]
async fn a_rejected_key_is_a_502_tmdb_unauthorized() {
    let tmdb = fake::start().await;
    fake::mount_catalogue(&tmdb).await;
    let app = app_with(&tmdb, "not-the-key").await;

    let body = app.get_json("/api/metadata/movie/603", 502).await;

    assert_eq!(body["error"]["code"], "tmdb_unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("SOKOUL_TMDB_KEY"), "{message}");
    assert!(!message.contains("not-the-key"), "the key is never echoed");
}

#[tokio::test]
async fn an_unknown_id_is_a_404_tmdb_not_found() {
    let tmdb = fake::start().await;
    fake::mount_catalogue(&tmdb).await;
    let app = app_with(&tmdb, fake::KEY).await;

    let body = app.get_json("/api/metadata/movie/999999", 404).await;
    assert_eq!(body["error"]["code"], "tmdb_not_found");
    let body = app.get_json("/api/metadata/tv/1396/season/42", 404).await;
    assert_eq!(body["error"]["code"], "tmdb_not_found");
}

#[tokio::test]
async fn a_429_is_retried_once_after_its_retry_after() {
    let tmdb = fake::start().await;
    Mock::given(method("GET"))
        .and(path("/3/movie/603"))
        .respond_with(fake::rate_limited(1))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&tmdb)
        .await;
    fake::mount_catalogue(&tmdb).await;
    let app = app_with(&tmdb, fake::KEY).await;

    let started = Instant::now();
    let body = app.get_json("/api/metadata/movie/603", 200).await;

    assert_eq!(body["title"], "The Matrix");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(tmdb.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_429_with_a_long_retry_after_is_a_503_that_passes_the_retry_after_on() {
    let tmdb = fake::start().await;
    Mock::given(method("GET"))
        .and(path("/3/movie/603"))
        .respond_with(fake::rate_limited(30))
        .mount(&tmdb)
        .await;
    let app = app_with(&tmdb, fake::KEY).await;

    let started = Instant::now();
    let response = app.get("/api/metadata/movie/603").await;

    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tmdb_rate_limited");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "does not sit through a 30 s wait"
    );
    assert_eq!(tmdb.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_key_metadata_is_unavailable_and_tmdb_is_never_called() {
    let tmdb = fake::start().await;
    let base = fake::base_url(&tmdb);
    let app = spawn_app(move |s| s.tmdb.base_url = base).await;

    let body = app.get_json("/api/metadata/movie/603", 404).await;
    assert_eq!(body["error"]["code"], "metadata_unavailable");
    let body = app.get_json("/api/metadata/tv/1396/season/1", 404).await;
    assert_eq!(body["error"]["code"], "metadata_unavailable");
    assert!(tmdb.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_metadata_requests_are_400s() {
    let tmdb = fake::start().await;
    let app = app_with(&tmdb, fake::KEY).await;
    for (path, code) in [
        ("/api/metadata/anime/1", "unknown_media_type"),
        ("/api/metadata/movie/abc", "invalid_tmdb_id"),
        ("/api/metadata/movie/0", "invalid_tmdb_id"),
        ("/api/metadata/tv/1396/season/-1", "invalid_episode"),
        (
            "/api/metadata/movie/603?language=french",
            "invalid_metadata_language",
        ),
        (
            "/api/metadata/tv/1396/season/1?language=f%22r",
            "invalid_metadata_language",
        ),
        (
            "/api/search?q=matrix&language=fr_FR_x",
            "invalid_metadata_language",
        ),
    ] {
        let body = app.get_json(path, 400).await;
        assert_eq!(body["error"]["code"], code, "{path}");
    }
    assert!(tmdb.received_requests().await.unwrap().is_empty());
}

/// Issue 19: the header's search finds library titles whatever their accents, and TMDB's
/// films and series (not people) through the server, each saying whether the library has it.
#[tokio::test]
async fn search_finds_library_titles_and_tmdb_films_and_series_but_not_people() {
    use sokoul::library::demo::Synth;
    let tmdb = fake::start().await;
    fake::mount(
        &tmdb,
        "/3/search/multi",
        ResponseTemplate::new(200).set_body_json(fake::search_matrix()),
    )
    .await;
    let root = tempfile::tempdir().unwrap();
    crate::library::place(
        root.path(),
        "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mp4",
        Synth::H264AacMp4,
    );
    crate::library::place(
        root.path(),
        "Amélie (2001) [tmdbid-194]/Amélie (2001).mp4",
        Synth::H264AacMp4,
    );
    let (base, dir) = (fake::base_url(&tmdb), root.path().to_path_buf());
    let app = spawn_app(move |s| {
        crate::library::library_settings(s, dir);
        s.tmdb.base_url = base;
        s.tmdb.key = Some(sokoul::config::Secret::new(fake::KEY));
    })
    .await;
    app.scan().await;

    let body = app.get_json("/api/search?q=AMELIE", 200).await;
    let library: Vec<_> = body["library"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["tmdb_id"].clone())
        .collect();
    assert_eq!(library, [json!(194)], "{body}");

    let body = app.get_json("/api/search?q=%20matrix%20", 200).await;
    assert_eq!(body["tmdb_available"], true);
    assert_eq!(body["library"][0]["title"], "The Matrix");
    let tmdb_hits = body["tmdb"].as_array().unwrap();
    assert_eq!(tmdb_hits.len(), 2, "the person is left out: {body}");
    assert_eq!(tmdb_hits[0]["media_type"], "movie");
    assert_eq!(tmdb_hits[0]["year"], 1999);
    assert_eq!(tmdb_hits[0]["in_library"], true);
    assert_eq!(
        tmdb_hits[0]["poster_url"],
        "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    );
    assert_eq!(
        (&tmdb_hits[1]["media_type"], &tmdb_hits[1]["tmdb_id"]),
        (&json!("tv"), &json!(1256))
    );
    assert_eq!(tmdb_hits[1]["in_library"], false);
    assert!(tmdb_hits[1].get("poster_url").is_none());

    // The same words again are TMDB's cached answer; the key went to TMDB, never back.
    app.get_json("/api/search?q=matrix", 200).await;
    let searches: Vec<_> = tmdb
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.url.path() == "/3/search/multi" && r.url.query().unwrap().contains("query=matrix")
        })
        .collect();
    assert_eq!(searches.len(), 1);
    assert!(searches[0].url.query().unwrap().contains("query=matrix"));
    assert!(!body.to_string().contains(fake::KEY));
}

#[tokio::test]
async fn a_tmdb_failure_leaves_the_library_results_and_says_why() {
    let tmdb = fake::start().await; // every request: TMDB's 401
    let app = app_with(&tmdb, "a-revoked-key").await;
    let body = app.get_json("/api/search?q=matrix", 200).await;
    assert_eq!(body["tmdb"], json!([]));
    assert_eq!(body["tmdb_error"]["code"], "tmdb_unauthorized");

    let without = spawn_app(|_| {}).await;
    let body = without.get_json("/api/search?q=matrix", 200).await;
    assert_eq!(body["tmdb_available"], false);
    assert!(body.get("tmdb_error").is_none());
    for q in ["", "%20%20", &"x".repeat(101)] {
        let e = without.get_json(&format!("/api/search?q={q}"), 400).await;
        assert_eq!(e["error"]["code"], "invalid_search", "{q:?}");
    }
}
