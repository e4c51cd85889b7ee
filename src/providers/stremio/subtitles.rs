//! Subtitles from Stremio addons (`protocols-addendum.md` §3): every addon whose manifest
//! serves `subtitles` for the title is asked `/subtitles/{type}/{id}[/{extra}].json` alongside
//! the streams. For a library title the extra says what subtitle addons match a file by
//! (`videoHash`, `videoSize`, `filename`, as stremio-core's `subtitles_update` sends them).
//! A subtitle addon that fails, hangs or answers nonsense costs its own subtitles only: it is
//! logged like a failed stream addon, and the resolve goes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use moka::future::Cache;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

use super::{Addon, ID, Manifest, Stremio, encode_component};
use crate::library::naming::{normalize_lang, track_label};
use crate::library::{Library, confine, oshash};
use crate::models::{MediaRequest, StreamSource, Subtitle};
use crate::providers::ProviderError;
use crate::providers::library::files_for;

/// OpenSubtitles answers some 50–200 items for a popular film across every language; past
/// this many, one addon's list is no longer a menu anyone reads.
const MAX_PER_ADDON: usize = 100;
/// Subtitle addons get this share of the provider's budget: the rest is the margin that lets
/// a hanging subtitle addon end before the resolver's own timeout, which would drop the
/// streams already found with it.
const SHARE: f64 = 0.8;
/// Hashes of library files kept (one per file version): 16 hex digits each.
const MAX_HASHES: u64 = 10_000;

/// What a subtitle addon matches a file by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct VideoExtras {
    /// The OpenSubtitles hash (`library::oshash`), when the file is large enough to have one.
    pub(super) hash: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) filename: Option<String>,
}

impl VideoExtras {
    /// `videoHash=…&videoSize=…&filename=…`: each key and value percent-encoded, as
    /// stremio-core's `query_params_encode` does and the SDK's `qs.parse` reads; `None` when
    /// there is nothing to say (the URL then has no extra segment).
    pub(super) fn encode(&self) -> Option<String> {
        let size = self.size.map(|s| s.to_string());
        let pairs: Vec<String> = [
            ("videoHash", self.hash.as_deref()),
            ("videoSize", size.as_deref()),
            ("filename", self.filename.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", encode_component(v?))))
        .collect();
        (!pairs.is_empty()).then(|| pairs.join("&"))
    }
}

/// One subtitle addon to ask, and the id it takes.
#[derive(Debug)]
pub(super) struct SubtitleAsk {
    addon: usize,
    name: String,
    video_id: String,
}

/// The addons whose manifest serves `subtitles` for one of `ids` (in preference order), in
/// the configured order. Unusable manifests were already reported by the stream plan.
pub(super) fn plan(
    manifests: &[Result<Arc<Manifest>, ProviderError>],
    kind: &str,
    ids: &[String],
) -> Vec<SubtitleAsk> {
    manifests
        .iter()
        .enumerate()
        .filter_map(|(addon, m)| {
            let m = m.as_ref().ok().filter(|m| !m.configuration_required)?;
            let id = ids.iter().find(|id| m.supports("subtitles", kind, id))?;
            Some(SubtitleAsk {
                addon,
                name: m.name.clone(),
                video_id: id.clone(),
            })
        })
        .collect()
}

/// When the subtitle requests of a resolve that started at `started` must end.
pub(super) fn deadline(started: Instant, budget: Duration) -> Instant {
    started + budget.mul_f64(SHARE)
}

/// The hashes of library files, by file version (id, size, mtime): a file is read once, not
/// on every resolve.
pub(super) fn hash_cache() -> Cache<(i64, u64, i64), Option<String>> {
    Cache::builder().max_capacity(MAX_HASHES).build()
}

impl Addon {
    /// `…/{config}/subtitles/{type}/{id}[/{extra}].json`.
    fn subtitles_url(&self, kind: &str, video_id: &str, extra: Option<&str>) -> Url {
        let mut url = self.resource_url("subtitles", kind, video_id);
        if let Some(extra) = extra {
            let path = url.path().strip_suffix(".json").unwrap_or(url.path());
            let path = format!("{path}/{extra}.json");
            url.set_path(&path);
        }
        url
    }
}

impl Stremio {
    /// Every planned subtitle addon, asked at once until `deadline`; their subtitles in the
    /// configured order (no preferred subtitle language exists server-side to order them by).
    pub(super) async fn subtitles(
        &self,
        asks: Vec<SubtitleAsk>,
        kind: &str,
        extras: Option<&VideoExtras>,
        deadline: Instant,
    ) -> Vec<Subtitle> {
        let extra = extras.and_then(VideoExtras::encode);
        let answers = join_all(asks.iter().map(|ask| {
            let url = self.addons[ask.addon].subtitles_url(kind, &ask.video_id, extra.as_deref());
            async move { (ask, self.get_json(url, deadline).await) }
        }))
        .await;
        let mut out = Vec::new();
        for (ask, answer) in answers {
            let items = answer.and_then(|json| match json.get("subtitles") {
                Some(Value::Array(items)) => Ok(map_subtitles(items, &ask.name)),
                _ => Err(ProviderError::upstream(
                    "stremio_invalid_response",
                    format!("{} answered without a 'subtitles' list", ask.name),
                )),
            });
            match items {
                Ok(items) => out.extend(items),
                Err(e) => {
                    warn!(addon = %ask.name, code = e.code(), error = %e, "a Stremio subtitle addon failed")
                }
            }
        }
        out
    }

    /// What subtitle addons are told about the title's library file (the first, which the
    /// library's own subtitles are timed to), if it is one. Bounded by `deadline`: a hash
    /// that cannot be read in time is left out, never waited for.
    pub(super) async fn library_extras(
        &self,
        req: &MediaRequest,
        deadline: Instant,
    ) -> Option<VideoExtras> {
        let library = self.library.as_ref()?;
        let files = files_for(library, req)
            .await
            .inspect_err(|e| debug!(error = %e, "no library file for the subtitle addons"))
            .ok()?;
        let file = files.into_iter().next()?;
        let key = (file.id, file.size, file.mtime_ns);
        let hashing = self
            .hashes
            .get_with(key, hash_of(library.clone(), file.path.clone()));
        let hash = tokio::time::timeout_at(deadline.into(), hashing)
            .await
            .unwrap_or_else(|_| {
                warn!(
                    file_id = file.id,
                    "the OpenSubtitles hash took too long; asking without it"
                );
                None
            });
        Some(VideoExtras {
            hash,
            size: Some(file.size),
            filename: file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
        })
    }
}

/// A library file's OpenSubtitles hash, read through the library's confinement (inside a
/// root, a regular file, no link swapped in).
async fn hash_of(library: Arc<Library>, path: std::path::PathBuf) -> Option<String> {
    let read = tokio::task::spawn_blocking(move || {
        let (mut file, meta) = confine::open_regular(library.roots(), &path)?;
        Ok::<_, confine::Refusal>(oshash::hash_file(&mut file, meta.len())?)
    })
    .await;
    match read {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => {
            warn!(error = %e, "cannot hash a library file for the subtitle addons");
            None
        }
        Err(e) => {
            warn!(error = %e, "the hashing task failed");
            None
        }
    }
}

/// An addon's `subtitles` items: those with an http(s) `url`, at most [`MAX_PER_ADDON`],
/// labelled with their language and the addon, numbered when one language comes twice.
fn map_subtitles(items: &[Value], addon: &str) -> Vec<Subtitle> {
    let mut out: Vec<Subtitle> = Vec::new();
    for item in items {
        if out.len() == MAX_PER_ADDON {
            debug!(
                addon,
                left = items.len() - MAX_PER_ADDON,
                "subtitle list cut"
            );
            break;
        }
        let Some(url) = item
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| Url::parse(u.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            continue;
        };
        // ISO 639-2 (`fre`, `eng`) as the library's tracks: 639-1 where known.
        let lang = normalize_lang(item.get("lang").and_then(Value::as_str).unwrap_or(""));
        let same = out.iter().filter(|s| s.lang == lang).count();
        let name = track_label(&lang, None, false, false);
        let label = match same {
            0 => format!("{name} · {addon}"),
            n => format!("{name} {} · {addon}", n + 1),
        };
        out.push(Subtitle {
            source: StreamSource::Remote {
                url,
                headers: Default::default(),
            },
            lang,
            label: Some(label),
            provider: ID.into(),
            burn_in: None,
            ass: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_extra_is_a_percent_encoded_query_string() {
        let extras = VideoExtras {
            hash: Some("8e245d9679d31e12".into()),
            size: Some(12_909_756),
            filename: Some("Ça démarre & co.mkv".into()),
        };
        assert_eq!(
            extras.encode().as_deref(),
            Some(
                "videoHash=8e245d9679d31e12&videoSize=12909756&filename=%C3%87a%20d%C3%A9marre%20%26%20co.mkv"
            )
        );
        let small = VideoExtras {
            size: Some(1000),
            filename: Some("a.mkv".into()),
            ..VideoExtras::default()
        };
        assert_eq!(
            small.encode().as_deref(),
            Some("videoSize=1000&filename=a.mkv")
        );
        assert_eq!(VideoExtras::default().encode(), None);

        let addon = Addon::parse("http://127.0.0.1:7000/%7B%22k%22%3A1%7D/manifest.json").unwrap();
        assert_eq!(
            addon
                .subtitles_url("movie", "tt0133093", extras.encode().as_deref())
                .as_str(),
            "http://127.0.0.1:7000/%7B%22k%22%3A1%7D/subtitles/movie/tt0133093/videoHash=8e245d9679d31e12&videoSize=12909756&filename=%C3%87a%20d%C3%A9marre%20%26%20co.mkv.json"
        );
        assert_eq!(
            addon
                .subtitles_url("series", "tt0903747:1:2", None)
                .as_str(),
            "http://127.0.0.1:7000/%7B%22k%22%3A1%7D/subtitles/series/tt0903747%3A1%3A2.json"
        );
    }

    #[test]
    fn only_addons_serving_subtitles_for_the_id_are_asked() {
        let manifest = |v: Value| Ok(Arc::new(Manifest::parse(&v).unwrap()));
        let manifests = vec![
            // OpenSubtitles v3's shape: the short form, the manifest's types and prefixes.
            manifest(
                json!({"id": "os", "name": "OpenSubtitles v3", "types": ["movie", "series"],
                "idPrefixes": ["tt"], "resources": ["subtitles"]}),
            ),
            manifest(
                json!({"id": "s", "name": "Streams only", "types": ["movie"],
                "resources": ["stream"]}),
            ),
            manifest(json!({"id": "t", "name": "TMDB subs", "types": ["movie"],
                "resources": [{"name": "subtitles", "types": ["movie"], "idPrefixes": ["tmdb:"]}]})),
            Err(ProviderError::timeout("down")),
            manifest(
                json!({"id": "c", "name": "Unconfigured", "types": ["movie"],
                "resources": ["subtitles"], "behaviorHints": {"configurationRequired": true}}),
            ),
        ];
        let ids = ["tt0133093".to_string(), "tmdb:603".to_string()];
        let asks = plan(&manifests, "movie", &ids);
        let got: Vec<_> = asks
            .iter()
            .map(|a| (a.addon, a.video_id.as_str()))
            .collect();
        assert_eq!(got, [(0, "tt0133093"), (2, "tmdb:603")]);
        assert!(plan(&manifests, "series", &ids[1..]).is_empty());
    }

    #[test]
    fn items_get_a_normalised_language_and_a_label_naming_the_addon() {
        let mut items = vec![
            json!({"id": "1", "url": "https://subs.example/1.srt", "lang": "fre"}),
            json!({"id": "2", "url": "https://subs.example/2.srt", "lang": "fra"}),
            json!({"id": "3", "url": "https://subs.example/3.srt", "lang": "eng"}),
            json!({"id": "4", "url": "https://subs.example/4.srt", "lang": "Klingon"}),
            json!({"id": "5", "url": "ftp://subs.example/5.srt", "lang": "eng"}),
            json!({"id": "6", "lang": "eng"}),
            json!("not an object"),
        ];
        let subs = map_subtitles(&items, "OpenSubtitles v3");
        let langs: Vec<&str> = subs.iter().map(|s| s.lang.as_str()).collect();
        assert_eq!(langs, ["fr", "fr", "en", "klingon"]);
        let labels: Vec<String> = subs.iter().filter_map(|s| s.label.clone()).collect();
        assert_eq!(
            labels,
            [
                "Français · OpenSubtitles v3",
                "Français 2 · OpenSubtitles v3",
                "English · OpenSubtitles v3",
                "klingon · OpenSubtitles v3",
            ]
        );
        assert!(subs.iter().all(|s| s.provider == "stremio"));

        items = (0..MAX_PER_ADDON + 50)
            .map(
                |i| json!({"id": i, "url": format!("https://subs.example/{i}.srt"), "lang": "eng"}),
            )
            .collect();
        assert_eq!(map_subtitles(&items, "Big").len(), MAX_PER_ADDON);
    }
}
