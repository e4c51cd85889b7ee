//! Resolution → the contract's JSON: sign a proxy URL for every remote source and subtitle,
//! and redact credentials so they never reach the browser.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use crate::models::{
    ExtractedStream, RemoteThumbnails, Resolution, ResolveResponse, SourceDto, StreamSource,
    Subtitle, SubtitleDto, SubtitleFormat, ThumbnailsDto,
};
use crate::proxy::token::{Kind, ProxyContext, Signer};
use crate::security::Security;
use crate::security::media_url::Binding;

const REDACTED: &str = "[redacted]";

/// Header names whose values are credentials.
fn is_credential_header(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "authorization",
        "cookie",
        "proxy-authorization",
        "x-api-key",
        "x-emby-token",
        "x-mediabrowser-token",
        "x-emby-authorization",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Query parameter names whose values are credentials (Jellyfin's `ApiKey`, a provider's or
/// CDN's `token`, `key`, …). The player never needs them: it plays `proxy_url`.
fn is_credential_param(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "apikey",
        "api_key",
        "x-emby-token",
        "access_token",
        "password",
        "token",
        "key",
        "auth",
        "secret",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

pub fn redact_url(url: &Url) -> String {
    let mut out = url.clone();
    let _ = out.set_username("");
    let _ = out.set_password(None);
    if url.query_pairs().any(|(k, _)| is_credential_param(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_credential_param(&k) {
                    REDACTED.into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        out.query_pairs_mut().clear().extend_pairs(pairs);
    }
    out.to_string()
}

pub fn redact_headers(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            let v = if is_credential_header(k) {
                REDACTED.to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

fn header_list(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What signs URLs in a response: the proxy's signer, and the media URLs of library files
/// when the API needs a credential (`None` for the command line, which has no browser),
/// bound to the caller's session (`Security::binding`).
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub proxy: &'a Signer,
    pub security: Option<&'a Security>,
    pub binding: Option<Binding>,
}

impl Signing<'_> {
    fn local(&self, path: &str, expires: u64) -> String {
        match self.security {
            Some(s) => s.media_url(path, expires, self.binding),
            None => path.to_owned(),
        }
    }
}

fn source(stream: &ExtractedStream, signing: Signing<'_>, proxy_expires: u64) -> SourceDto {
    let signer = signing.proxy;
    let (url, proxy_url, headers) = match &stream.source {
        // Remote sources are cross-origin by definition: they always go through the proxy,
        // which also carries the headers the browser cannot send.
        StreamSource::Remote { url, headers } => {
            let minted = signer.mint_for(
                &stream.provider,
                url.as_str(),
                &header_list(headers),
                proxy_expires,
            );
            // An engine source is the same sealed URL, packaged by the playback engine.
            let proxy_url = match stream.engine {
                true => super::playback::engine_url(&minted).unwrap_or(minted),
                false => minted,
            };
            (redact_url(url), Some(proxy_url), redact_headers(headers))
        }
        StreamSource::Local { path } => (signing.local(path, proxy_expires), None, BTreeMap::new()),
    };
    SourceDto {
        url,
        proxy_url,
        kind: stream.kind,
        quality: stream.quality.clone().unwrap_or_else(|| "auto".into()),
        provider: stream.provider.clone(),
        headers,
        label: stream.label.clone(),
        expires_at: stream.expires_at,
        markers: stream.markers.clone().filter(|m| !m.is_empty()),
        thumbnails: stream
            .thumbnails
            .as_ref()
            .map(|t| thumbnails(stream, t, signing.proxy, proxy_expires)),
        mime: stream.mime.clone(),
    }
}

/// The sheets of a remote source's seek thumbnails, each a proxy URL under the source's own
/// headers and provider, so the upstream's credentials stay on this side as for the video.
fn thumbnails(
    stream: &ExtractedStream,
    thumbnails: &RemoteThumbnails,
    signer: &Signer,
    proxy_expires: u64,
) -> ThumbnailsDto {
    let headers = header_list(stream.headers().unwrap_or(&BTreeMap::new()));
    ThumbnailsDto {
        sheets: thumbnails
            .sheets
            .iter()
            .map(|url| signer.mint_for(&stream.provider, url.as_str(), &headers, proxy_expires))
            .collect(),
        grid: thumbnails.grid,
    }
}

fn subtitle(sub: &Subtitle, signing: Signing<'_>, proxy_expires: u64) -> SubtitleDto {
    let signer = signing.proxy;
    let (url, proxy_url) = match &sub.source {
        StreamSource::Remote { url, headers } => (
            redact_url(url),
            // Served as WebVTT whatever the upstream wrote (SRT in Windows-1252…).
            Some(signer.mint_context(
                url.as_str(),
                &ProxyContext::for_provider(&sub.provider, &header_list(headers), proxy_expires),
                Kind::Subtitle,
            )),
        ),
        StreamSource::Local { path } => (signing.local(path, proxy_expires), None),
    };
    let ass_url = sub.ass.as_deref().map(|p| signing.local(p, proxy_expires));
    SubtitleDto {
        url,
        proxy_url,
        lang: sub.lang.clone(),
        label: sub.label.clone().unwrap_or_else(|| sub.lang.clone()),
        provider: sub.provider.clone(),
        burn_in: sub.burn_in.clone(),
        format: Some(match ass_url {
            Some(_) => SubtitleFormat::Ass,
            None => SubtitleFormat::Vtt,
        }),
        ass_url,
    }
}

pub fn present(
    resolution: &Resolution,
    cached: bool,
    signing: Signing<'_>,
    proxy_expires: u64,
) -> ResolveResponse {
    ResolveResponse {
        media: resolution.media.clone(),
        sources: resolution
            .streams
            .iter()
            .map(|s| source(s, signing, proxy_expires))
            .collect(),
        subtitles: resolution
            .subtitles
            .iter()
            .map(|s| subtitle(s, signing, proxy_expires))
            .collect(),
        markers: resolution.markers.clone().filter(|m| !m.is_empty()),
        outcomes: resolution.outcomes.clone(),
        cached,
    }
}

/// Rendered JSON of cache hits, so a hot title costs one lookup instead of re-signing every
/// source on every request. Proxy URL expiries are rounded down to the minute: all requests in
/// the same minute get identical, equally valid bytes.
#[derive(Debug)]
pub struct RenderCache {
    inner: moka::sync::Cache<String, Bytes>,
}

/// Granularity of proxy URL expiry for cached answers, seconds.
pub const EXPIRY_STEP: u64 = 60;

impl Default for RenderCache {
    fn default() -> Self {
        RenderCache {
            inner: moka::sync::Cache::builder()
                .max_capacity(4096)
                .time_to_live(Duration::from_secs(EXPIRY_STEP))
                .build(),
        }
    }
}

impl RenderCache {
    /// The rendered body for a cached `resolution` under `key` at time `now`, rendering it once.
    pub fn get_or_render(
        &self,
        key: &str,
        resolution: &Resolution,
        signing: Signing<'_>,
        now: u64,
        url_ttl: u64,
    ) -> Bytes {
        let minute = now - now % EXPIRY_STEP;
        // valid_until identifies this stored resolution: a re-resolve never reuses old bytes.
        // The binding is the caller's: its media tokens must never reach another session.
        let render_key = format!(
            "{key}|{}|{minute}|{:?}",
            resolution.valid_until.unix_timestamp_nanos(),
            signing.binding
        );
        self.inner.get_with(render_key, || {
            let body = present(resolution, true, signing, minute + url_ttl);
            Bytes::from(serde_json::to_vec(&body).expect("the response serializes"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_from_urls_and_headers() {
        let url =
            Url::parse("http://user:pw@jf.local/Videos/1/master.m3u8?MediaSourceId=1&ApiKey=abc")
                .unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("abc") && !shown.contains("pw"), "{shown}");
        assert!(shown.contains("MediaSourceId=1"));
        let mut h = BTreeMap::new();
        h.insert(
            "Authorization".to_string(),
            "MediaBrowser Token=\"abc\"".to_string(),
        );
        h.insert("Referer".to_string(), "https://embed/".to_string());
        let shown = redact_headers(&h);
        assert_eq!(shown["Authorization"], REDACTED);
        assert_eq!(shown["Referer"], "https://embed/");
    }
}
