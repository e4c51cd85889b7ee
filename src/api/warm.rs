//! The watch page's first resolve carries the browser's profile (`?profile=`, as the master
//! playlist will): when the answer's first source is one the playback engine packages, its
//! packaging starts now rather than when hls.js asks for the first segment, 0.3–1.0 s later
//! on 2 cores (the page's scripts, hls.js and its worker, the MediaSource set-up; traces in
//! `docs/benchmarks.md`, "Playback engine"). Best effort: nothing here changes the answer,
//! and a failure is the player's to meet when it asks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use super::library::library;
use super::media::client_profile;
use super::playback::{PLAYBACK_PATH, remote_file};
use crate::error::ApiError;
use crate::playback::ClientProfile;
use crate::startup::AppState;

/// `?profile=` on a resolve: the client that will play the answer. 400
/// `invalid_client_profile` when it cannot be read, as on a master playlist.
#[derive(Debug)]
pub struct Warm(pub Option<ClientProfile>);

impl<S: Send + Sync> FromRequestParts<S> for Warm {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Warm(client_profile(parts.uri.query())?))
    }
}

/// What the first source of an answer points at, when the engine packages it.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `/api/media/{id}/hls/master.m3u8`: a library file.
    Library(i64),
    /// `/api/playback/r/{source}/master.m3u8`: a remote file, by its sealed source.
    Remote(String),
}

/// Starts packaging the first source of `body` (a resolve answer as sent) for `profile`.
pub fn start(state: &AppState, body: &[u8], profile: ClientProfile) {
    let Some(target) = first_source(body, &profile) else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = warm(&state, &target, profile).await {
            tracing::debug!(?target, code = e.code, "no early start: {e}");
        }
    });
}

async fn warm(state: &AppState, target: &Target, profile: ClientProfile) -> Result<(), ApiError> {
    match target {
        Target::Library(id) => {
            let library = library(state)?;
            let file = library.file(*id).await?;
            library.packager.warm(&file, profile);
        }
        Target::Remote(source) => {
            let file = remote_file(state, source).await?;
            state.engine.warm(&file, profile);
        }
    }
    Ok(())
}

/// The engine source the player starts with: the answer's first source this client plays, if
/// the engine packages it (a file played as it is, or a proxied HLS stream, needs nothing
/// started). A file whose `mime` the client does not play (a WebM where WebM is not played
/// directly) is passed over, as the player passes over it.
fn first_source(body: &[u8], profile: &ClientProfile) -> Option<Target> {
    #[derive(Deserialize)]
    struct Answer {
        sources: Vec<Source>,
    }
    #[derive(Deserialize)]
    struct Source {
        url: String,
        proxy_url: Option<String>,
        mime: Option<String>,
    }
    let first = serde_json::from_slice::<Answer>(body)
        .ok()?
        .sources
        .into_iter()
        .find(|s| s.mime.as_deref().is_none_or(|m| plays_file(profile, m)))?;
    target_of(first.proxy_url.as_deref().unwrap_or(&first.url))
}

/// Whether `profile` plays a file of type `mime` (as `direct_mime` writes them) with a plain
/// `<video src>`: the player's `canPlayType`, as far as the profile tells it. Matroska holding
/// only WebM codecs is what a WebM demuxer takes; anything else in it (H.264, AAC) needs a
/// Matroska demuxer.
fn plays_file(profile: &ClientProfile, mime: &str) -> bool {
    let (container, codecs) = mime.split_once(';').unwrap_or((mime, ""));
    let codecs: Vec<&str> = codecs
        .split(['"', ','])
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.starts_with("codecs="))
        .map(|c| c.split('.').next().unwrap_or(c))
        .collect();
    let webm_codecs = codecs
        .iter()
        .all(|c| matches!(*c, "av01" | "vp09" | "vp8" | "opus" | "vorbis"));
    let container = match container.trim() {
        "video/mp4" => profile.mp4,
        "video/webm" => profile.webm,
        "video/x-matroska" if webm_codecs => profile.webm || profile.matroska,
        "video/x-matroska" => profile.matroska,
        _ => false,
    };
    let decoded = codecs.iter().all(|c| match *c {
        "avc1" => profile.h264,
        "av01" => profile.av1,
        "vp09" => profile.vp9,
        "vp8" | "vorbis" => profile.webm || profile.matroska,
        "mp4a" => profile.aac,
        "mp3" => profile.mp3,
        "opus" => profile.opus,
        "flac" => profile.flac,
        _ => false,
    });
    container && decoded
}

fn target_of(url: &str) -> Option<Target> {
    let path = url.split(['?', '#']).next()?;
    if let Some(id) = path
        .strip_prefix("/api/media/")
        .and_then(|rest| rest.strip_suffix("/hls/master.m3u8"))
    {
        return id.parse().ok().filter(|id| *id > 0).map(Target::Library);
    }
    let source = path
        .strip_prefix(PLAYBACK_PATH)?
        .strip_suffix("/master.m3u8")?;
    (!source.is_empty() && !source.contains('/')).then(|| Target::Remote(source.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_engine_packages_is_started() {
        assert_eq!(
            target_of("/api/media/7/hls/master.m3u8?st=abc"),
            Some(Target::Library(7))
        );
        assert_eq!(
            target_of("/api/playback/r/AA-_.BB.CC/master.m3u8"),
            Some(Target::Remote("AA-_.BB.CC".into()))
        );
        // Direct play, a proxied HLS stream, anything else: nothing to start.
        for url in [
            "/api/media/7/file?st=abc",
            "/api/streaming/proxy?c=a&u=b&s=c",
            "/api/media/0/hls/master.m3u8",
            "/api/media/x/hls/master.m3u8",
            "/api/playback/r/a/b/master.m3u8",
            "https://cdn.example/master.m3u8",
        ] {
            assert_eq!(target_of(url), None, "{url}");
        }
    }

    #[test]
    fn the_first_source_of_the_answer_is_the_one_started() {
        let any = ClientProfile::default();
        let body = br#"{"sources":[{"url":"/api/media/3/file","proxy_url":null},
            {"url":"/api/media/3/hls/master.m3u8"}],"subtitles":[]}"#;
        assert_eq!(first_source(body, &any), None);
        let body = br#"{"sources":[{"url":"https://cdn.example/a.mkv",
            "proxy_url":"/api/playback/r/A.B.C/master.m3u8"}]}"#;
        assert_eq!(
            first_source(body, &any),
            Some(Target::Remote("A.B.C".into()))
        );
        assert_eq!(first_source(br#"{"sources":[]}"#, &any), None);
        assert_eq!(first_source(b"not json", &any), None);
    }

    #[test]
    fn a_file_the_browser_does_not_play_as_it_is_is_passed_over() {
        let body = br#"{"sources":[{"url":"/api/media/3/file",
            "mime":"video/x-matroska; codecs=\"av01.0.08M.08, opus\""},
            {"url":"/api/media/3/hls/master.m3u8"}]}"#;
        let chromium = ClientProfile::parse("1:avc,av1,vp9,aac,mp3,opus,flac,mp4,webm").unwrap();
        assert_eq!(first_source(body, &chromium), None, "played as it is");
        let no_av1 = ClientProfile::parse("1:avc,vp9,aac,opus,mp4,webm").unwrap();
        assert_eq!(first_source(body, &no_av1), Some(Target::Library(3)));
        let no_webm = ClientProfile::parse("1:avc,av1,aac,opus,mp4").unwrap();
        assert_eq!(first_source(body, &no_webm), Some(Target::Library(3)));
        let mp4 = r#"video/mp4; codecs="avc1.640028, mp4a.40.2""#;
        assert!(plays_file(&ClientProfile::default(), mp4));
    }

    #[test]
    fn an_h264_mkv_is_played_as_it_is_only_where_matroska_is() {
        let body = br#"{"sources":[{"url":"/api/media/4/file",
            "mime":"video/x-matroska; codecs=\"avc1.640028, mp4a.40.2\""},
            {"url":"/api/media/4/hls/master.m3u8"}]}"#;
        let chromium = ClientProfile::parse("1:avc,av1,vp9,aac,opus,mp4,webm,mkv").unwrap();
        assert_eq!(first_source(body, &chromium), None, "played as it is");
        let firefox = ClientProfile::parse("1:avc,av1,vp9,aac,opus,mp4,webm").unwrap();
        assert_eq!(first_source(body, &firefox), Some(Target::Library(4)));
        // The WebM demuxer is enough for WebM codecs in Matroska, the Matroska one too.
        let av1 = r#"video/x-matroska; codecs="av01.0.08M.08, opus""#;
        assert!(plays_file(&firefox, av1));
        let matroska_only = ClientProfile::parse("1:avc,av1,aac,opus,mkv").unwrap();
        assert!(plays_file(&matroska_only, av1));
        let flac = r#"video/x-matroska; codecs="avc1.640028, flac""#;
        assert!(!plays_file(&chromium, flac), "no flac token");
        assert!(plays_file(
            &ClientProfile {
                flac: true,
                ..chromium
            },
            flac
        ));
    }
}
