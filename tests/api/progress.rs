//! Watch progress: saved per title and episode, listed newest first, kept across restarts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, test_settings};

async fn put(app: &TestApp, path: &str, body: Value) -> u16 {
    app.client
        .put(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_saved_position_is_read_back_per_episode_and_listed_newest_first() {
    let app = spawn_app(|_| {}).await;
    assert_eq!(
        put(
            &app,
            "/api/progress/movie/603",
            json!({"position": 123.5, "duration": 8160})
        )
        .await,
        204
    );
    app.clock.advance(5);
    assert_eq!(
        put(
            &app,
            "/api/progress/tv/1396?season=1&episode=2",
            json!({"position": 61, "duration": 1400})
        )
        .await,
        204
    );

    let movie = app.get_json("/api/progress/movie/603", 200).await;
    assert_eq!(movie["position"], 123.5);
    assert_eq!(movie["duration"], 8160.0);
    let ep = app
        .get_json("/api/progress/tv/1396?season=1&episode=2", 200)
        .await;
    assert_eq!(
        (ep["season"].as_u64(), ep["episode"].as_u64()),
        (Some(1), Some(2))
    );
    let none = app
        .get_json("/api/progress/tv/1396?season=1&episode=3", 404)
        .await;
    assert_eq!(none["error"]["code"], "no_progress");

    let list = app.get_json("/api/progress", 200).await;
    let ids: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["media_type"].clone(), i["tmdb_id"].clone()))
        .collect();
    assert_eq!(
        ids,
        vec![(json!("tv"), json!(1396)), (json!("movie"), json!(603))]
    );

    let r = app
        .client
        .delete(format!("{}/api/progress/movie/603", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    app.get_json("/api/progress/movie/603", 404).await;
}

#[tokio::test]
async fn bad_progress_input_gets_a_clear_400() {
    let app = spawn_app(|_| {}).await;
    assert_eq!(
        put(
            &app,
            "/api/progress/movie/603",
            json!({"position": -1, "duration": 10})
        )
        .await,
        400
    );
    assert_eq!(
        put(
            &app,
            "/api/progress/movie/603",
            json!({"position": "soon", "duration": 10})
        )
        .await,
        422
    );
    assert_eq!(
        put(&app, "/api/progress/tv/1396", json!({"position": 1})).await,
        400
    );
    let r = app
        .client
        .put(format!("{}/api/progress/movie/603", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_body");
    app.get_json("/api/progress/movie/603", 404).await;
}

#[tokio::test]
async fn positions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let app =
            sokoul::startup::Application::build(test_settings(dir.path()), Default::default())
                .await
                .unwrap();
        let address = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(1),
        ));
        let client = reqwest::Client::new();
        if round == 0 {
            let r = client
                .put(format!("{address}/api/progress/movie/603"))
                .json(&json!({"position": 42.0, "duration": 100.0}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        } else {
            let body: Value = client
                .get(format!("{address}/api/progress/movie/603"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(body["position"], 42.0, "{body}");
        }
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_database_failure_answers_500_internal_without_the_database_text() {
    let app = spawn_app(|_| {}).await;
    app.state
        .store
        .call(|c| Ok(c.execute_batch("DROP TABLE watch_progress")?))
        .await
        .unwrap();

    let body = app.get_json("/api/progress", 500).await;

    assert_eq!(body["error"]["code"], "internal");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("watch_progress") && !message.contains("database"),
        "{message}"
    );
}
