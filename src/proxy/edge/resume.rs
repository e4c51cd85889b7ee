//! The edge's upstream requests, and resuming a body that broke off midway (issue 17): when
//! its length, a strong validator and range support are known (`fill::Resumable`), the rest
//! is asked for with `Range` and `If-Range` and spliced on only if it is exactly the rest of
//! the same representation. Shared fetches resume in `edge::Inner::body`; a body relayed to
//! one client (not shared: a cookie, `private`, a film's Range) through [`DirectResume`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use futures::StreamExt;
use url::Url;

use super::fill::Resumable;
use crate::config::ProxySettings;
use crate::metrics::Metrics;
use crate::proxy::ProxyError;
use crate::proxy::client::{BodyStream, Holding, ProxyClient, SharedStream, UpstreamResponse};
use crate::proxy::upstream::{FetchRequest, Fetched, fetch};
use crate::upstream::guard::Guard;

/// Everything an upstream request of the edge needs, owned, for tasks that outlive requests.
#[derive(Debug)]
pub struct Fetcher {
    pub http: ProxyClient,
    pub guard: Arc<Guard>,
    pub metrics: Arc<Metrics>,
    pub settings: ProxySettings,
}

/// On whose behalf: the sealed context and the client the host limit counts.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub provider: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub client: IpAddr,
}

impl Fetcher {
    /// One upstream request (the whole object, or the rest with `extra`), admitted as the
    /// relay admits answers.
    pub async fn fetch(
        &self,
        who: Who<'_>,
        url: Url,
        extra: &HeaderMap,
    ) -> Result<Fetched, ProxyError> {
        let request = FetchRequest {
            url,
            provider: who.provider,
            client: who.client,
            sealed_headers: who.headers,
            client_headers: extra,
            max_redirects: self.settings.max_redirects,
            first_byte_timeout: Duration::from_secs_f64(
                self.settings.first_byte_timeout.max(0.001),
            ),
            retries: self.settings.retries,
        };
        let fetched = fetch(&self.http, &self.guard, &self.metrics, request).await?;
        let response = &fetched.response;
        crate::proxy::relay::admit(
            response.status().as_u16(),
            response.headers().get(header::CONTENT_ENCODING),
        )?;
        Ok(fetched)
    }

    /// The rest of the body after `got` bytes, if the upstream sends exactly that.
    pub async fn resume(
        &self,
        who: Who<'_>,
        url: &Url,
        r: &Resumable,
        got: u64,
    ) -> Option<UpstreamResponse> {
        let fetched = self.fetch(who, url.clone(), &r.request(got)).await;
        let response = fetched
            .inspect_err(|e| tracing::info!(error = %e, "resuming the upstream body failed"))
            .ok()?
            .response;
        let same = r.continues(got, response.status(), response.headers());
        if !same {
            tracing::info!(
                status = response.status().as_u16(),
                "the upstream did not resume the same body"
            );
        }
        same.then_some(response)
    }
}

/// A relayed body's way back after a break: where it came from and what it is.
#[derive(Debug)]
pub struct DirectResume {
    pub fetcher: Arc<Fetcher>,
    pub url: Url,
    pub provider: Option<String>,
    pub headers: Vec<(String, String)>,
    pub client: IpAddr,
    pub resumable: Resumable,
}

struct Relayed {
    body: Option<Holding<BodyStream>>,
    got: u64,
    attempts: u8,
    resume: DirectResume,
}

impl DirectResume {
    /// The body, resumed where it breaks (after `got` bytes already taken from it), at most
    /// `proxy.resume_attempts` times; then the break reaches the client as before.
    pub fn wrap(self, got: u64, body: Holding<BodyStream>) -> SharedStream {
        let state = Relayed {
            body: Some(body),
            got,
            attempts: 0,
            resume: self,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                let next = st.body.as_mut()?.next().await;
                match next {
                    Some(Ok(chunk)) => {
                        st.got += chunk.len() as u64;
                        return Some((Ok(chunk), st));
                    }
                    None => return None,
                    Some(Err(e)) => {
                        // The broken answer's host slot is given back before the new request.
                        st.body = None;
                        let r = &st.resume;
                        if st.attempts >= r.fetcher.settings.resume_attempts {
                            return Some((Err(e), st));
                        }
                        st.attempts += 1;
                        let who = Who {
                            provider: r.provider.as_deref(),
                            headers: &r.headers,
                            client: r.client,
                        };
                        match r.fetcher.resume(who, &r.url, &r.resumable, st.got).await {
                            Some(rest) => {
                                r.fetcher.metrics.edge.resumes.inc();
                                st.body = Some(rest.into_stream());
                            }
                            None => return Some((Err(e), st)),
                        }
                    }
                }
            }
        })
        .boxed()
    }
}
