//! A fake Jellyfin server (`protocols.md` §4) that behaves like the real one where it matters:
//!
//! - auth by `Authorization: MediaBrowser Token="…"` or `ApiKey=`; the legacy `api_key=` is
//!   refused, as with Jellyfin 12's default `EnableLegacyAuthorization = false` (401);
//! - `/Items` applies only the filters Jellyfin has (`IncludeItemTypes`, `HasTmdbId`,
//!   `SearchTerm`, `Ids`, `StartIndex`, `Limit`) and **ignores unknown ones**, so
//!   `AnyProviderIdEquals=…` returns every item; `ProviderIds`/`MediaSources` only come back
//!   when `Fields` asks for them;
//! - `/Shows/{id}/Episodes?season=` (404 "Series not found"), `/Users`, `/System/Info[/Public]`,
//!   and the HLS, direct-play and subtitle routes, with `MediaSourceId` required by HLS and
//!   the query copied into the variant and segment URLs;
//! - `/MediaSegments/{id}` (10.10+, `protocols-addendum.md` §1): `QueryResult<MediaSegmentDto>`
//!   filtered by repeated `includeSegmentTypes`, 404 for an unknown item, and [`Segments`] to
//!   play an older server (no route: 404), a malformed body or a slow answer;
//! - trickplay (10.9+, `protocols-addendum.md` §2): The Matrix's `Trickplay` field (only when
//!   `Fields` asks for it, like the others) and its tiles at
//!   `/Videos/{id}/Trickplay/{width}/{index}.jpg` (a real JPEG made by ffmpeg, 404 past the
//!   last sheet), and [`Trickplay`] to play a server that has none or a malformed field.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub(crate) const API_KEY: &str = "4a1b0f5e9c2d4e8fb6a7c3d2e1f00abc";
pub(crate) const ADMIN_ID: &str = "f3a6c1b2d4e5f60718293a4b5c6d7e8f";
pub(crate) const MATRIX_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub(crate) const RELOADED_ID: &str = "1b2c3d4e5f60718293a4b5c6d7e8f90a";
pub(crate) const AMELIE_ID: &str = "2c3d4e5f60718293a4b5c6d7e8f90a1b";
pub(crate) const BREAKING_BAD_ID: &str = "3d4e5f60718293a4b5c6d7e8f90a1b2c";
pub(crate) const S01E02_ID: &str = "4e5f60718293a4b5c6d7e8f90a1b2c3d";
pub(crate) const S02E01_ID: &str = "5f60718293a4b5c6d7e8f90a1b2c3d4e";

fn media_source(
    id: &str,
    container: &str,
    video: &str,
    audio: &str,
    width: u32,
    height: u32,
) -> Value {
    json!({
        "Protocol": "File", "Id": id, "Path": format!("/media/{id}.{container}"),
        "Type": "Default", "Container": container, "Name": "Default",
        "SupportsDirectPlay": true, "SupportsDirectStream": true, "SupportsTranscoding": true,
        "RunTimeTicks": 81_600_000_000u64,
        "MediaStreams": [
            {"Codec": video, "Type": "Video", "Index": 0, "Width": width, "Height": height, "IsDefault": true},
            {"Codec": audio, "Type": "Audio", "Index": 1, "Language": "eng", "Channels": 6, "IsDefault": true},
            {"Codec": "subrip", "Type": "Subtitle", "Index": 2, "Language": "eng",
             "DisplayTitle": "English - SUBRIP", "IsTextSubtitleStream": true, "IsExternal": false},
            {"Codec": "PGSSUB", "Type": "Subtitle", "Index": 3, "Language": "fre",
             "DisplayTitle": "French - PGSSUB", "IsTextSubtitleStream": false}
        ],
        "DefaultAudioStreamIndex": 1
    })
}

fn movie(id: &str, name: &str, year: u32, tmdb: Option<u32>, source: Value) -> Value {
    let mut ids = serde_json::Map::new();
    if let Some(t) = tmdb {
        ids.insert("Tmdb".into(), json!(t.to_string()));
    }
    json!({"Name": name, "ServerId": "srv", "Id": id, "Type": "Movie", "ProductionYear": year,
           "ProviderIds": ids, "MediaSources": [source], "MediaType": "Video"})
}

/// The library: The Matrix (mp4, H.264/AAC: direct play), The Matrix Reloaded (HEVC mkv),
/// Amélie (under its short name, so a search by TMDB's French title misses), a home video
/// without a TMDB id, Breaking Bad with two episodes (one a two-part file), and
/// `fillers` more films so that the index needs several pages.
pub(crate) fn library(fillers: usize) -> (Vec<Value>, Vec<Value>) {
    let mut items = vec![
        movie(
            RELOADED_ID,
            "The Matrix Reloaded",
            2003,
            Some(604),
            media_source(RELOADED_ID, "mkv", "hevc", "dts", 3840, 1600),
        ),
        movie(
            MATRIX_ID,
            "The Matrix",
            1999,
            Some(603),
            media_source(
                MATRIX_ID,
                "mov,mp4,m4a,3gp,3g2,mj2",
                "h264",
                "aac",
                1920,
                800,
            ),
        ),
        movie(
            "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
            "Home Video 2019",
            2019,
            None,
            media_source(
                "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
                "mp4",
                "h264",
                "aac",
                1280,
                720,
            ),
        ),
        json!({"Name": "Breaking Bad", "Id": BREAKING_BAD_ID, "Type": "Series", "ProductionYear": 2008,
               "ProviderIds": {"Tmdb": "1396", "Imdb": "tt0903747", "Tvdb": "81189"}}),
    ];
    for i in 0..fillers {
        let id = format!("{:032x}", 0xf000_0000u64 + i as u64);
        items.push(movie(
            &id,
            &format!("Filler Film {i}"),
            2000,
            Some(900_000 + i as u32),
            media_source(&id, "mkv", "h264", "ac3", 1920, 1080),
        ));
    }
    // Last, so that only the last page of the index has it.
    items.push(movie(
        AMELIE_ID,
        "Amélie",
        2001,
        Some(194),
        media_source(AMELIE_ID, "mkv", "h264", "ac3", 1920, 1040),
    ));
    let episodes = vec![
        json!({"Name": "Cat's in the Bag...", "Id": S01E02_ID, "Type": "Episode", "SeriesId": BREAKING_BAD_ID,
               "SeriesName": "Breaking Bad", "IndexNumber": 2, "ParentIndexNumber": 1,
               "ProviderIds": {"Tmdb": "62086"},
               "MediaSources": [media_source(S01E02_ID, "mkv", "h264", "ac3", 1280, 720)]}),
        json!({"Name": "Seven Thirty-Seven / Grilled", "Id": S02E01_ID, "Type": "Episode", "SeriesId": BREAKING_BAD_ID,
               "SeriesName": "Breaking Bad", "IndexNumber": 1, "IndexNumberEnd": 2, "ParentIndexNumber": 2,
               "MediaSources": [media_source(S02E01_ID, "mp4", "h264", "aac", 1920, 1080)]}),
    ];
    (items, episodes)
}

/// Ticks are 100 ns.
const S: i64 = 10_000_000;

/// The media segments of the library, as a segment provider plugin would store them
/// (sorted by start, as `MediaSegmentManager` returns them). The Matrix's intro is under 1 s.
fn media_segments(item_id: &str) -> Vec<Value> {
    let segment = |n: u8, kind: &str, start: i64, end: i64| {
        json!({"Id": format!("{n:032x}"), "ItemId": item_id, "Type": kind,
               "StartTicks": start, "EndTicks": end})
    };
    match item_id {
        S01E02_ID => vec![
            segment(1, "Recap", 0, 30 * S),
            segment(2, "Intro", 60 * S, 95 * S + S / 2),
            segment(3, "Commercial", 100 * S, 120 * S),
            segment(4, "Outro", 8000 * S, 8160 * S),
        ],
        MATRIX_ID => vec![
            segment(5, "Intro", 0, 4 * S / 10),
            segment(6, "Outro", 7900 * S, 8100 * S),
        ],
        _ => Vec::new(),
    }
}

/// How `/MediaSegments/{id}` answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Segments {
    /// Jellyfin 10.10+.
    Served,
    /// Jellyfin 10.9: no such route, so 404 (and `System/Info` says 10.9.11).
    OldServer,
    /// A 200 whose body is not a `QueryResult<MediaSegmentDto>` (a broken plugin or proxy).
    Malformed,
    /// The documented answer, after longer than any resolve waits.
    Slow,
}

/// The Matrix's trickplay: widths 320 and 640, 10x10 tiles of 320x134, one every 10 s over
/// its 8160 s, so 816 thumbnails in 9 sheets.
pub(crate) const TRICKPLAY_COUNT: u32 = 816;
pub(crate) const TRICKPLAY_SHEETS: usize = 9;

fn trickplay_field(ms_id: &str) -> Value {
    let info = |w: u32, h: u32| {
        json!({"Width": w, "Height": h, "TileWidth": 10, "TileHeight": 10,
               "ThumbnailCount": TRICKPLAY_COUNT, "Interval": 10000, "Bandwidth": 4_000_000})
    };
    json!({ ms_id: {"320": info(320, 134), "640": info(640, 268)} })
}

/// A sheet of trickplay tiles: a real JPEG, made once per test run.
pub(crate) fn tile_sheet() -> &'static [u8] {
    static JPEG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    JPEG.get_or_init(|| {
        let out = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=s=640x268:d=1",
                "-frames:v",
                "1",
            ])
            .args(["-f", "image2pipe", "-c:v", "mjpeg", "-"])
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success() && out.stdout.starts_with(&[0xFF, 0xD8]));
        out.stdout
    })
}

/// What the items say of trickplay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Trickplay {
    /// Jellyfin 10.9+ with trickplay made for The Matrix.
    Served,
    /// Jellyfin 10.8: no such field, no such route.
    OldServer,
    /// A field that is not `{mediaSourceId: {width: info}}`.
    Malformed,
}

#[derive(Clone)]
pub(crate) struct FakeJellyfin {
    items: Arc<Vec<Value>>,
    episodes: Arc<Vec<Value>>,
    segments: Arc<Mutex<Segments>>,
    trickplay: Arc<Mutex<Trickplay>>,
    /// Every `/Items` query string received, to assert what was asked.
    pub item_queries: Arc<Mutex<Vec<String>>>,
}

impl FakeJellyfin {
    pub(crate) async fn start(fillers: usize) -> (MockServer, FakeJellyfin) {
        let (items, episodes) = library(fillers);
        let fake = FakeJellyfin {
            items: Arc::new(items),
            episodes: Arc::new(episodes),
            segments: Arc::new(Mutex::new(Segments::Served)),
            trickplay: Arc::new(Mutex::new(Trickplay::Served)),
            item_queries: Arc::default(),
        };
        let server = MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        (server, fake)
    }

    pub(crate) fn item_queries(&self) -> Vec<String> {
        self.item_queries.lock().unwrap().clone()
    }

    pub(crate) fn set_segments(&self, segments: Segments) {
        *self.segments.lock().unwrap() = segments;
    }

    pub(crate) fn set_trickplay(&self, trickplay: Trickplay) {
        *self.trickplay.lock().unwrap() = trickplay;
    }

    fn version(&self) -> &'static str {
        match *self.segments.lock().unwrap() {
            Segments::OldServer => "10.9.11",
            _ => "10.11.11",
        }
    }
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// `MediaBrowser Token="…"` (scheme case-insensitive, other fields allowed) or `ApiKey=`.
fn authenticated(request: &Request) -> bool {
    let header_ok = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.to_ascii_lowercase().starts_with("mediabrowser "))
        .is_some_and(|v| v.contains(&format!("Token=\"{API_KEY}\"")));
    let query_ok = request
        .url
        .query_pairs()
        .any(|(k, v)| k.eq_ignore_ascii_case("apikey") && v == API_KEY);
    header_ok || query_ok
}

fn has_field(request: &Request, field: &str) -> bool {
    query(request, "Fields")
        .is_some_and(|f| f.split(',').any(|x| x.trim().eq_ignore_ascii_case(field)))
}

/// Jellyfin's DtoService leaves out fields that were not asked for.
fn shape(item: &Value, request: &Request, trickplay: Trickplay) -> Value {
    let mut item = item.clone();
    let obj = item.as_object_mut().unwrap();
    if !has_field(request, "ProviderIds") {
        obj.remove("ProviderIds");
    }
    if !has_field(request, "MediaSources") {
        obj.remove("MediaSources");
    }
    if has_field(request, "Trickplay") && obj["Id"] == MATRIX_ID {
        match trickplay {
            Trickplay::Served => obj.insert("Trickplay".into(), trickplay_field(MATRIX_ID)),
            Trickplay::Malformed => obj.insert("Trickplay".into(), json!({MATRIX_ID: [320]})),
            Trickplay::OldServer => None,
        };
    }
    item
}

fn page(items: Vec<Value>, request: &Request, trickplay: Trickplay) -> ResponseTemplate {
    let total = items.len();
    let start: usize = query(request, "StartIndex")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit: usize = query(request, "Limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let items: Vec<Value> = items
        .iter()
        .skip(start)
        .take(limit)
        .map(|i| shape(i, request, trickplay))
        .collect();
    ResponseTemplate::new(200)
        .set_body_json(json!({"Items": items, "TotalRecordCount": total, "StartIndex": start}))
}

impl FakeJellyfin {
    fn items(&self, request: &Request) -> ResponseTemplate {
        self.item_queries
            .lock()
            .unwrap()
            .push(request.url.query().unwrap_or("").to_string());
        let types: Option<Vec<String>> = query(request, "IncludeItemTypes").map(|t| {
            t.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        });
        let search = query(request, "SearchTerm").map(|s| s.to_lowercase());
        let ids: Option<Vec<String>> =
            query(request, "Ids").map(|t| t.split(',').map(String::from).collect());
        let has_tmdb = query(request, "HasTmdbId").map(|v| v.eq_ignore_ascii_case("true"));
        let matching = self
            .items
            .iter()
            .filter(|i| {
                let ty = i["Type"].as_str().unwrap().to_ascii_lowercase();
                types.as_ref().is_none_or(|t| t.contains(&ty))
            })
            .filter(|i| {
                search
                    .as_ref()
                    .is_none_or(|s| i["Name"].as_str().unwrap().to_lowercase().contains(s))
            })
            .filter(|i| {
                ids.as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| i["Id"] == **id))
            })
            .filter(|i| has_tmdb.is_none_or(|want| i["ProviderIds"].get("Tmdb").is_some() == want))
            .cloned()
            .collect();
        page(matching, request, *self.trickplay.lock().unwrap())
    }

    fn episodes(&self, series: &str, request: &Request) -> ResponseTemplate {
        if !self
            .items
            .iter()
            .any(|i| i["Id"] == series && i["Type"] == "Series")
        {
            return ResponseTemplate::new(404).set_body_string("Series not found");
        }
        let season: Option<u64> = query(request, "season").and_then(|s| s.parse().ok());
        let episodes = self
            .episodes
            .iter()
            .filter(|e| e["SeriesId"] == series)
            .filter(|e| season.is_none_or(|s| e["ParentIndexNumber"] == s))
            .cloned()
            .collect();
        page(episodes, request, *self.trickplay.lock().unwrap())
    }

    fn media_segments(&self, id: &str, request: &Request) -> ResponseTemplate {
        let mode = *self.segments.lock().unwrap();
        let known = self
            .items
            .iter()
            .chain(self.episodes.iter())
            .any(|i| i["Id"] == id);
        if mode == Segments::OldServer || !known {
            return ResponseTemplate::new(404);
        }
        if mode == Segments::Malformed {
            return ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json")
                .set_body_string(r#"{"Items":[{"Type":"Intro","StartTicks":"soon"#);
        }
        // Repeated keys, no comma-delimited binder: `?includeSegmentTypes=Intro&…=Outro`.
        let types: Vec<String> = request
            .url
            .query_pairs()
            .filter(|(k, _)| k.eq_ignore_ascii_case("includeSegmentTypes"))
            .map(|(_, v)| v.into_owned())
            .collect();
        let items: Vec<Value> = media_segments(id)
            .into_iter()
            .filter(|s| types.is_empty() || types.iter().any(|t| s["Type"] == t.as_str()))
            .collect();
        let answer = ResponseTemplate::new(200).set_body_json(
            json!({"Items": items, "TotalRecordCount": items.len(), "StartIndex": 0}),
        );
        match mode {
            Segments::Slow => answer.set_delay(Duration::from_secs(30)),
            _ => answer,
        }
    }
}

impl FakeJellyfin {
    /// `TrickplayController.GetTrickplayTileImage`: 404 for a width or a sheet it has not made.
    fn trickplay_sheet(&self, id: &str, width: &str, sheet: &str) -> ResponseTemplate {
        let made = *self.trickplay.lock().unwrap() == Trickplay::Served
            && id == MATRIX_ID
            && ["320", "640"].contains(&width);
        let index: Option<usize> = sheet.strip_suffix(".jpg").and_then(|n| n.parse().ok());
        match index {
            Some(n) if made && n < TRICKPLAY_SHEETS => ResponseTemplate::new(200)
                .insert_header("Content-Type", "image/jpeg")
                .insert_header(
                    "Content-Disposition",
                    format!("attachment; filename=\"{n}.jpg\""),
                )
                .set_body_bytes(tile_sheet().to_vec()),
            _ => ResponseTemplate::new(404),
        }
    }
}

impl Respond for FakeJellyfin {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // Public routes first: no auth.
        match segments.as_slice() {
            ["System", "Info", "Public"] => {
                return ResponseTemplate::new(200).set_body_json(json!({
                    "LocalAddress": "http://127.0.0.1:8096", "ServerName": "fake", "Version": self.version(),
                    "ProductName": "Jellyfin Server", "Id": "srv", "StartupWizardCompleted": true}));
            }
            // SubtitleController's stream action has no [Authorize].
            ["Videos", _, _, "Subtitles", _, "Stream.vtt"] => {
                return ResponseTemplate::new(200)
                    .insert_header("Content-Type", "text/vtt")
                    .set_body_string(
                        "WEBVTT\n\n00:00.000 --> 00:01.000\nFollow the white rabbit.\n",
                    );
            }
            _ => {}
        }
        if !authenticated(request) {
            return ResponseTemplate::new(401);
        }
        match segments.as_slice() {
            ["System", "Info"] => ResponseTemplate::new(200).set_body_json(
                json!({"ServerName": "fake", "Version": self.version(), "Id": "srv"}),
            ),
            ["Users"] => ResponseTemplate::new(200).set_body_json(json!([
                {"Name": "guest", "Id": "0000000000000000000000000000beef",
                 "Policy": {"IsAdministrator": false, "IsDisabled": false}},
                {"Name": "admin", "Id": ADMIN_ID,
                 "Policy": {"IsAdministrator": true, "IsDisabled": false}}
            ])),
            ["Items"] => self.items(request),
            ["Shows", series, "Episodes"] => self.episodes(series, request),
            ["MediaSegments", id] => self.media_segments(id, request),
            ["Videos", _, "master.m3u8"] => {
                if query(request, "MediaSourceId").is_none() {
                    return ResponseTemplate::new(400).set_body_json(json!({
                        "title": "One or more validation errors occurred.", "status": 400,
                        "errors": {"mediaSourceId": ["The mediaSourceId field is required."]}}));
                }
                let q = request.url.query().unwrap_or("");
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/vnd.apple.mpegurl")
                    .set_body_string(format!(
                        "#EXTM3U\n#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=4000000,CODECS=\"avc1.640028,mp4a.40.2\"\nmain.m3u8?{q}\n"
                    ))
            }
            ["Videos", _, "main.m3u8"] => {
                let q = request.url.query().unwrap_or("");
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/vnd.apple.mpegurl")
                    .set_body_string(format!(
                        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nhls1/main/0.ts?{q}\n#EXT-X-ENDLIST\n"
                    ))
            }
            ["Videos", id, "Trickplay", width, sheet] => self.trickplay_sheet(id, width, sheet),
            ["Videos", _, "stream"] => ResponseTemplate::new(200)
                .insert_header("Content-Type", "video/mp4")
                .set_body_bytes(b"\0\0\0\x18ftypmp42fake".to_vec()),
            _ => ResponseTemplate::new(404),
        }
    }
}
