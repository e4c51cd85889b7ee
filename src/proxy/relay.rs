//! A proxy request's phases as named steps, in the spirit of pingora's `ProxyHttp`:
//! `verify` the signed URL → `fetch` the upstream (one `FetchRequest`, built by `request`) →
//! `classify` the answer (document or stream: `sniff`, `range`) → rewrite a document
//! (`rewrite_playlist`, `rewrite_json`: read whole within the rewrite memory budget, after a
//! Range answer is completed by a refetch, `whole`) or relay a stream.
//!
//! No HTTP here: `api::proxy` extracts the request, calls [`Relay::serve`] and turns its
//! [`Outcome`] into a response.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::{Bytes, BytesMut};
use url::Url;

use super::ProxyError;
use super::budget::{Reserve, RewriteBudget};
use super::client::{ProxyClient, UpstreamResponse};
use super::edge::keeper::KeepJob;
use super::edge::resume::DirectResume;
use super::edge::tiers::Entry;
use super::edge::{Edge, EdgeAnswer, Keep, Lane};
use super::json::{MAX_JSON_BYTES, rewrite_json};
use super::playlist::{RewriteContext, RewriteError};
use super::query::{ProxyQuery, upstream_directives};
use super::range::Part;
use super::segment::copy_allowed;
use super::sniff::{Class, Sniff, classify, is_playlist_type, sniff};
use super::streamed::{self, Owned, held};
use super::token::{Signer, TokenError, Verified};
use super::upstream::{FetchRequest, Fetched, fetch, with_directives, without_directives};
use crate::config::ProxySettings;
use crate::library::subtitles::to_webvtt;
use crate::metrics::Metrics;
use crate::upstream::body::{Limits, read_bounded};
use crate::upstream::guard::Guard;

/// What serving one proxy request needs, borrowed from the application state.
#[derive(Debug)]
pub struct Relay<'a> {
    pub signer: &'a Arc<Signer>,
    /// Unix seconds, for the URL's expiry.
    pub now: u64,
    pub http: &'a ProxyClient,
    pub guard: &'a Guard,
    pub metrics: &'a Metrics,
    pub budget: &'a RewriteBudget,
    pub settings: &'a ProxySettings,
    /// The shared cache and fetches (`proxy::edge`).
    pub edge: &'a Edge,
}

/// Who asks: the client as the rate limit sees it (one share of a host's slots per address)
/// and its request headers (of which only ranges and validators go upstream).
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: IpAddr,
    pub headers: &'a HeaderMap,
}

/// A verified request: what to fetch, for whom, and the context its children inherit.
#[derive(Debug)]
pub struct Target<'c> {
    pub verified: Verified,
    /// The upstream URL with the player's delivery directives.
    pub url: Url,
    pub client: Client<'c>,
}

/// An admitted upstream answer.
struct Answer {
    response: UpstreamResponse,
    /// The URL that answered, after redirects: a document's URIs resolve against it.
    url: Url,
    part: Part,
    /// Where a rewrite of this answer may be kept, when it came through the edge.
    keep: Option<Keep>,
}

/// The largest subtitle file the proxy converts: a feature film's SRT is 50–150 KB, 300 KB
/// in UTF-16; 4 MiB leaves room for a long series special in every encoding, and the read
/// is held within the rewrite budget like any document.
pub const MAX_SUBTITLE_BYTES: u64 = 4 * 1024 * 1024;

/// What the request gets.
#[derive(Debug)]
pub enum Outcome {
    /// The upstream body, relayed as it comes; `first` holds the bytes read to sniff it.
    Stream {
        response: UpstreamResponse,
        first: Option<Bytes>,
        idle: Duration,
        /// How the body is resumed if the upstream breaks it off (`proxy::edge::resume`).
        resume: Option<Box<DirectResume>>,
    },
    /// A rewritten playlist or JSON document.
    Document(Document),
}

#[derive(Debug)]
pub struct Document {
    pub body: Body,
    pub content_type: String,
    /// The upstream's `Cache-Control` and `Expires`, which the document keeps.
    pub caching: HeaderMap,
    /// A streamed playlist's length, known before its body is produced.
    pub len: Option<u64>,
    pub kind: DocumentKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Playlist,
    Json,
    Subtitle,
}

impl Outcome {
    /// The `kind` label of the proxy's response metric.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Stream { .. } => "segment",
            Outcome::Document(doc) => match doc.kind {
                DocumentKind::Playlist => "playlist",
                DocumentKind::Json => "json",
                DocumentKind::Subtitle => "subtitle",
            },
        }
    }
}

impl Relay<'_> {
    /// Every phase, in order.
    pub async fn serve(
        &self,
        raw_query: Option<&str>,
        client: Client<'_>,
    ) -> Result<Outcome, ProxyError> {
        let target = self.verify(raw_query, client)?;
        let lane = self
            .edge
            .lane(&target.verified, &target.url, client.ip, client.headers);
        if let Some(lane) = &lane
            && let Some(entry) = self.edge.document(lane).await
        {
            return Ok(kept_document(entry));
        }
        let answer = self.fetch(&target, lane.as_ref()).await?;
        let headers = answer.response.headers();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let class = classify(
            target.verified.kind,
            answer.part,
            content_type,
            answer.response.content_length(),
        );
        match class {
            Class::Stream => Ok(self.stream(&target, answer, BytesMut::new())),
            Class::Json => self.rewrite_json(&target, answer).await,
            Class::Subtitle => self.subtitle(&target, answer).await,
            Class::Playlist => {
                let head = BytesMut::new();
                self.rewrite_playlist(&target, answer, head).await
            }
            Class::Sniff => self.sniffed(&target, answer).await,
        }
    }

    /// The signed parameters, checked; the directives the upstream may see.
    pub fn verify<'c>(
        &self,
        raw_query: Option<&str>,
        client: Client<'c>,
    ) -> Result<Target<'c>, ProxyError> {
        let query = ProxyQuery::parse(raw_query);
        let verified = query.verify(self.signer, self.now)?;
        let upstream = Url::parse(&verified.upstream).map_err(|_| TokenError::Malformed)?;
        let directives = upstream_directives(self.signer, self.now, query.directives);
        Ok(Target {
            url: with_directives(&upstream, &directives),
            verified,
            client,
        })
    }

    /// The upstream's answer, if it is one the proxy passes on: through the edge (cache or
    /// shared fetch) when the request may go there, else fetched for this request alone.
    async fn fetch(&self, target: &Target<'_>, lane: Option<&Lane>) -> Result<Answer, ProxyError> {
        let mut own = None;
        if let Some(lane) = lane {
            match self.edge.answer(lane).await? {
                EdgeAnswer::Ready {
                    response,
                    url,
                    keep,
                } => {
                    let range = response.headers().get(header::CONTENT_RANGE);
                    let part = Part::of(
                        response.status().as_u16(),
                        range.and_then(|v| v.to_str().ok()),
                    );
                    return Ok(Answer {
                        response,
                        url,
                        part,
                        keep,
                    });
                }
                EdgeAnswer::Direct(fetched) => own = Some(fetched),
                EdgeAnswer::Alone => {}
            }
        }
        let Fetched { response, url } = match own {
            Some(fetched) => fetched,
            None => {
                let request = self.request(target, target.url.clone(), target.client.headers);
                fetch(self.http, self.guard, self.metrics, request).await?
            }
        };
        let status = response.status().as_u16();
        admit(status, response.headers().get(header::CONTENT_ENCODING)).inspect_err(|e| {
            tracing::info!(host = url.host_str(), status, error = %e, "upstream answer refused");
        })?;
        let content_range = response
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok());
        let part = Part::of(status, content_range);
        Ok(Answer {
            response,
            url,
            part,
            keep: None,
        })
    }

    /// The one upstream request of this proxy URL: its sealed headers, the client's
    /// forwarded ones, the configured redirects, deadline and retries.
    fn request<'r>(
        &'r self,
        target: &'r Target<'_>,
        url: Url,
        client_headers: &'r HeaderMap,
    ) -> FetchRequest<'r> {
        FetchRequest {
            url,
            provider: target.verified.context.provider.as_deref(),
            client: target.client.ip,
            sealed_headers: &target.verified.context.headers,
            client_headers,
            max_redirects: self.settings.max_redirects,
            first_byte_timeout: secs(self.settings.first_byte_timeout),
            retries: self.settings.retries,
        }
    }

    /// The whole document, fetched again (same URL, without the client's Range and
    /// validators) when the answer holds only part of it.
    async fn whole(
        &self,
        target: &Target<'_>,
        answer: Answer,
    ) -> Result<UpstreamResponse, ProxyError> {
        if !answer.part.needs_refetch() {
            return Ok(answer.response);
        }
        drop(answer.response);
        let no_range = HeaderMap::new();
        let request = self.request(target, answer.url, &no_range);
        let fetched = fetch(self.http, self.guard, self.metrics, request).await?;
        match fetched.response.status().as_u16() {
            200 => Ok(fetched.response),
            status => Err(ProxyError::Status(status)),
        }
    }

    /// Reads the first bytes of an answer that may be a playlist.
    async fn sniffed(
        &self,
        target: &Target<'_>,
        mut answer: Answer,
    ) -> Result<Outcome, ProxyError> {
        let mut head = BytesMut::new();
        loop {
            match sniff(&head) {
                Sniff::Playlist => {
                    return self.rewrite_playlist(target, answer, head).await;
                }
                Sniff::Other => break,
                Sniff::NeedMore => {}
            }
            let next = tokio::time::timeout(self.idle(), answer.response.chunk()).await;
            match next.map_err(|_| ProxyError::Timeout)? {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(ProxyError::Body(e)),
            }
        }
        Ok(self.stream(target, answer, head))
    }

    fn stream(&self, target: &Target<'_>, answer: Answer, head: BytesMut) -> Outcome {
        let (verified, ip) = (&target.verified, target.client.ip);
        let resume = self
            .edge
            .direct_resume(verified, &answer.url, ip, &answer.response);
        Outcome::Stream {
            response: answer.response,
            first: (!head.is_empty()).then(|| head.freeze()),
            idle: self.idle(),
            resume: resume.map(Box::new),
        }
    }

    /// A playlist, read whole (after `head`, its sniffed first bytes) and rewritten as the
    /// client takes it.
    async fn rewrite_playlist(
        &self,
        target: &Target<'_>,
        answer: Answer,
        head: BytesMut,
    ) -> Result<Outcome, ProxyError> {
        let base = without_directives(&answer.url);
        let host = answer.url.host_str().map(str::to_string);
        let keep = answer.keep;
        // A refetched document is read from its first byte again.
        let head = if answer.part.needs_refetch() {
            BytesMut::new()
        } else {
            head
        };
        let mut response = self.whole(target, answer).await?;
        let mut reserve = Reserve::new(self.budget, secs(self.settings.first_byte_timeout));
        let max = self.settings.max_playlist_bytes;
        let body = self.read(&mut response, head, max, &mut reserve).await?;
        let owned = Owned {
            signer: self.signer.clone(),
            sealed: target.verified.sealed.clone(),
            base,
            imported: target.verified.vars.clone(),
            max_output: self.max_output(),
        };
        if let Some(keep) = keep {
            self.keep_rewrite(keep, &owned, &body, &response);
        }
        let out = streamed::rewrite(owned, body, reserve.held, self.idle())
            .await
            .inspect_err(|e| tracing::info!(host, error = %e, "playlist not rewritten"))?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|t| is_playlist_type(t))
            .unwrap_or("application/vnd.apple.mpegurl");
        Ok(Outcome::Document(Document {
            body: out.body,
            content_type: content_type.to_string(),
            caching: caching(&response),
            len: Some(out.len),
            kind: DocumentKind::Playlist,
        }))
    }

    /// Has a VOD or multivariant playlist rewritten once more, in the background, to be kept
    /// for the next viewers with this context (`proxy::edge::keeper`); this request is
    /// answered as before.
    fn keep_rewrite(&self, keep: Keep, owned: &Owned, body: &Bytes, response: &UpstreamResponse) {
        let mut headers = caching(response);
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .filter(|v| v.to_str().is_ok_and(is_playlist_type))
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/vnd.apple.mpegurl"));
        headers.insert(header::CONTENT_TYPE, content_type);
        let owned = Owned {
            signer: owned.signer.clone(),
            sealed: owned.sealed.clone(),
            base: owned.base.clone(),
            imported: owned.imported.clone(),
            max_output: owned.max_output,
        };
        let job = KeepJob {
            keep,
            owned,
            input: body.clone(),
            headers,
            budget: self.budget.clone(),
        };
        self.edge.keep_rewrite(job);
    }

    /// A content-steering manifest or an asset list (at most [`MAX_JSON_BYTES`]): read,
    /// rewritten whole, then held within the budget until sent.
    async fn rewrite_json(
        &self,
        target: &Target<'_>,
        answer: Answer,
    ) -> Result<Outcome, ProxyError> {
        let base = without_directives(&answer.url);
        let mut response = self.whole(target, answer).await?;
        let mut reserve = Reserve::new(self.budget, secs(self.settings.first_byte_timeout));
        let max = self.settings.max_playlist_bytes.min(MAX_JSON_BYTES);
        let body = self
            .read(&mut response, BytesMut::new(), max, &mut reserve)
            .await?;
        let ctx = RewriteContext {
            signer: self.signer,
            sealed: &target.verified.sealed,
            base: &base,
            imported: None,
            max_output: self.max_output(),
        };
        let out = rewrite_json(&body, ctx).map_err(ProxyError::InvalidJson)?;
        if out.len() > ctx.max_output {
            return Err(RewriteError::OutputTooLarge(ctx.max_output).into());
        }
        drop(body);
        reserve.to(out.capacity() as u64).await?;
        Ok(Outcome::Document(Document {
            body: Body::from(held(out, reserve.held)),
            content_type: "application/json".to_string(),
            caching: caching(&response),
            len: None,
            kind: DocumentKind::Json,
        }))
    }

    /// A resolve answer's subtitle file (at most [`MAX_SUBTITLE_BYTES`]), read whole and
    /// served as UTF-8 WebVTT (`library::subtitles::to_webvtt`), held within the budget.
    async fn subtitle(&self, target: &Target<'_>, answer: Answer) -> Result<Outcome, ProxyError> {
        let host = answer.url.host_str().map(str::to_string);
        let mut response = self.whole(target, answer).await?;
        let mut reserve = Reserve::new(self.budget, secs(self.settings.first_byte_timeout));
        let body = self
            .read(
                &mut response,
                BytesMut::new(),
                MAX_SUBTITLE_BYTES,
                &mut reserve,
            )
            .await?;
        let vtt = to_webvtt(&body)
            .inspect_err(|e| tracing::info!(host, error = %e, "subtitle not converted"))?;
        drop(body);
        let vtt = vtt.into_bytes();
        reserve.to(vtt.capacity() as u64).await?;
        Ok(Outcome::Document(Document {
            len: Some(vtt.len() as u64),
            body: Body::from(held(vtt, reserve.held)),
            content_type: "text/vtt; charset=utf-8".to_string(),
            caching: caching(&response),
            kind: DocumentKind::Subtitle,
        }))
    }

    /// A document's bytes, at most `max`. Besides the idle timeout between chunks, the whole
    /// read has a deadline, or an upstream sending one byte at a time would hold the request
    /// for days.
    async fn read(
        &self,
        response: &mut UpstreamResponse,
        head: BytesMut,
        max: u64,
        reserve: &mut Reserve<'_>,
    ) -> Result<Bytes, ProxyError> {
        let limits = Limits {
            max,
            idle: Some(self.idle()),
            total: Some(secs(self.settings.first_byte_timeout)),
        };
        let body = read_bounded(response, head, limits, reserve).await?;
        if response.is_direct() {
            self.metrics.edge.upstream_bytes.inc_by(body.len() as u64);
        }
        Ok(body)
    }

    fn idle(&self) -> Duration {
        secs(self.settings.idle_timeout)
    }

    fn max_output(&self) -> usize {
        usize::try_from(self.settings.max_rewritten_bytes).unwrap_or(usize::MAX)
    }
}

/// The answers passed on: 2xx, 304 and 416 (anything else is the upstream refusing, and a
/// player switches source on a 403, 404 or 410), in the identity encoding. The proxy never
/// sends Accept-Encoding: a compressed answer is one the player could not use (the relayed
/// headers never include Content-Encoding) and that the proxy will not inflate.
pub(super) fn admit(status: u16, encoding: Option<&HeaderValue>) -> Result<(), ProxyError> {
    if !(200..300).contains(&status) && status != 304 && status != 416 {
        return Err(ProxyError::Status(status));
    }
    match encoding {
        Some(e) if !e.as_bytes().eq_ignore_ascii_case(b"identity") => Err(ProxyError::Encoding),
        _ => Ok(()),
    }
}

/// A kept rewritten document as the request's outcome.
fn kept_document(entry: Entry) -> Outcome {
    let mut caching = entry.meta.headers.clone();
    let content_type = caching
        .remove(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok().map(str::to_string))
        .unwrap_or_else(|| "application/vnd.apple.mpegurl".to_string());
    Outcome::Document(Document {
        len: Some(entry.body.len() as u64),
        body: Body::from(entry.body),
        content_type,
        caching,
        kind: DocumentKind::Playlist,
    })
}

/// The upstream's caching headers, which a rewritten document keeps.
fn caching(upstream: &UpstreamResponse) -> HeaderMap {
    let mut kept = HeaderMap::new();
    copy_allowed(
        upstream.headers(),
        &mut kept,
        &[header::CACHE_CONTROL, header::EXPIRES],
    );
    kept
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    struct Parts {
        signer: Arc<Signer>,
        http: ProxyClient,
        guard: Guard,
        metrics: Metrics,
        budget: RewriteBudget,
        settings: Settings,
        edge: Edge,
    }

    fn parts() -> Parts {
        let settings = Settings::default();
        let guard = Arc::new(Guard::from_settings(&settings));
        Parts {
            signer: Arc::new(Signer::new(b"relay-test")),
            http: ProxyClient::new(&settings, guard).unwrap(),
            guard: Guard::from_settings(&settings),
            metrics: Metrics::new(),
            budget: RewriteBudget::new(1 << 20),
            settings,
            edge: Edge::disabled(),
        }
    }

    fn relay(p: &Parts, now: u64) -> Relay<'_> {
        Relay {
            signer: &p.signer,
            now,
            http: &p.http,
            guard: &p.guard,
            metrics: &p.metrics,
            budget: &p.budget,
            settings: &p.settings.proxy,
            edge: &p.edge,
        }
    }

    fn query(url: &str) -> &str {
        url.split_once('?').unwrap().1
    }

    fn verify<'c>(
        p: &Parts,
        now: u64,
        raw: &str,
        headers: &'c HeaderMap,
    ) -> Result<Target<'c>, ProxyError> {
        let client = Client {
            ip: IpAddr::from([192, 0, 2, 1]),
            headers,
        };
        relay(p, now).verify(Some(raw), client)
    }

    #[test]
    fn verify_yields_the_upstream_url_with_the_players_directives() {
        let p = parts();
        let url = p.signer.mint("https://cdn.example/live.m3u8?t=1", &[], 100);
        let raw = format!("{}&_HLS_msn=7&_HLS_skip=no", query(&url));
        let none = HeaderMap::new();
        let target = verify(&p, 10, &raw, &none).unwrap();
        assert_eq!(
            target.url.as_str(),
            "https://cdn.example/live.m3u8?t=1&_HLS_msn=7"
        );
    }

    #[test]
    fn verify_rejects_a_tampered_missing_or_expired_token() {
        let p = parts();
        let url = p.signer.mint("https://cdn.example/a.ts", &[], 100);
        let q = query(&url);
        let none = HeaderMap::new();
        let code = |raw: &str, now| verify(&p, now, raw, &none).unwrap_err().code();
        // Another upstream under the same signature.
        let other = p.signer.mint("https://evil.example/a.ts", &[], 100);
        let u = |q: &str| {
            q.split('&')
                .find(|kv| kv.starts_with("u="))
                .unwrap()
                .to_string()
        };
        let forged = q.replace(&u(q), &u(query(&other)));
        assert_eq!(code(&forged, 10), "proxy_url_invalid");
        assert_eq!(code("c=a&u=b", 10), "proxy_url_malformed");
        assert_eq!(code(q, 100), "proxy_url_expired");
        assert!(verify(&p, 10, q, &none).is_ok());
    }

    #[test]
    fn only_2xx_304_and_416_in_the_identity_encoding_are_passed_on() {
        for status in [200, 204, 206, 304, 416] {
            assert!(admit(status, None).is_ok(), "{status}");
        }
        for (status, code) in [
            (403, "upstream_forbidden"),
            (404, "upstream_not_found"),
            (410, "upstream_gone"),
            (500, "upstream_error"),
            (301, "upstream_error"),
        ] {
            assert_eq!(admit(status, None).unwrap_err().code(), code);
        }
        let gzip = HeaderValue::from_static("gzip");
        let identity = HeaderValue::from_static("Identity");
        assert_eq!(
            admit(200, Some(&gzip)).unwrap_err().code(),
            "upstream_encoding_unsupported"
        );
        assert!(admit(200, Some(&identity)).is_ok());
    }
}
