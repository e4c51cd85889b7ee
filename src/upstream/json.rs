//! The one outbound JSON client of the providers (Consumet, Jellyfin, Stremio addons, TMDB):
//! deadline → retry → bounded read → transport errors → JSON decode. Each provider keeps only
//! its own classification of the answers (status and body → outcome).
//!
//! No error of this module can carry a URL's query (Jellyfin's `ApiKey=`, TMDB's `api_key=`, a
//! configured addon's path): every `reqwest::Error` is stored `without_url()`, and upstream
//! text quoted in a message goes through [`quote`], which cuts the queries of the URLs it holds.

use std::time::Instant;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use serde::de::DeserializeOwned;
use url::Url;

use super::retry::{self, RetryPolicy};
use super::{BodyError, read_body_limited};

/// A provider's configured base URL. It always ends in `/`, so a base with a path prefix
/// (`https://host/consumet/`) keeps it when a relative path is joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, url::ParseError> {
        let mut url = Url::parse(raw)?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(BaseUrl(url))
    }

    /// `path` (relative, no leading `/`) under the base, plus a query.
    pub fn join(&self, path: &str, query: &[(&str, &str)]) -> Url {
        super::endpoint(&self.0, path, query)
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

/// Why no answer could be read. Never holds a URL: see the module's documentation.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The caller's deadline passed before the request could start.
    #[error("the time budget is spent")]
    BudgetSpent,
    #[error("no answer in time")]
    Timeout(#[source] reqwest::Error),
    /// Refused, reset, a name that does not resolve, the SSRF guard's refusal. The text is
    /// the innermost cause ("Connection refused (os error 111)"), the rest is in the chain.
    #[error("{cause}")]
    Unreachable {
        cause: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer is larger than {} MiB", .limit >> 20)]
    TooLarge { limit: usize },
    #[error("the answer stopped arriving")]
    BodyTimeout(#[source] BodyError),
    #[error("the answer broke off: {cause}")]
    BodyBroken {
        cause: String,
        #[source]
        source: BodyError,
    },
    #[error("{0}")]
    NotJson(#[source] serde_json::Error),
}

impl JsonError {
    pub fn code(&self) -> &'static str {
        match self {
            JsonError::BudgetSpent => "upstream_budget_spent",
            JsonError::Timeout(_) => "upstream_timeout",
            JsonError::Unreachable { .. } => "upstream_unreachable",
            JsonError::TooLarge { .. } => "upstream_too_large",
            JsonError::BodyTimeout(_) => "upstream_body_timeout",
            JsonError::BodyBroken { .. } => "upstream_body_broken",
            JsonError::NotJson(_) => "upstream_not_json",
        }
    }

    /// The only way a `reqwest::Error` of a send becomes a [`JsonError`]: without its URL.
    pub fn from_send(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            return JsonError::Timeout(e);
        }
        JsonError::Unreachable {
            cause: root_cause(&e),
            source: e,
        }
    }

    fn from_body(e: BodyError, limit: usize) -> Self {
        match e {
            BodyError::TooLarge => JsonError::TooLarge { limit },
            e @ BodyError::Timeout(_) => JsonError::BodyTimeout(e),
            e @ BodyError::Io(_) => JsonError::BodyBroken {
                cause: root_cause(&e),
                source: e,
            },
        }
    }
}

/// The innermost cause's text: the one that says what happened ("Connection refused").
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// An answer with its body read (bounded). A redirect's body is not read: no provider uses
/// it, and a slow one must not spend the budget.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        serde_json::from_slice(&self.body).map_err(JsonError::NotJson)
    }

    /// A `Location`, as the upstream wrote it (relative or not).
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The `Location` fit for a message: without its query, which may be a token.
    pub fn location_shown(&self) -> Option<String> {
        let location = self.location()?;
        let cut = location.find(['?', '#']).unwrap_or(location.len());
        Some(quote(&location[..cut]))
    }

    /// Declared as HTML, or starting like markup.
    pub fn looks_html(&self) -> bool {
        let declared = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("html"));
        declared || self.body.trim_ascii_start().starts_with(b"<")
    }
}

/// GETs JSON under a retry policy, a body cap and the caller's deadline, with the headers
/// every request of one provider carries.
#[derive(Debug, Clone)]
pub struct JsonClient {
    http: reqwest::Client,
    retry: RetryPolicy,
    max_body: usize,
    headers: HeaderMap,
}

impl JsonClient {
    /// `max_body`: the largest answer the provider can legitimately send (each caller says
    /// why its limit is what it is).
    pub fn new(http: reqwest::Client, max_body: usize) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        JsonClient {
            http,
            retry: RetryPolicy::default(),
            max_body,
            headers,
        }
    }

    /// How failed requests are retried (`[resilience]`).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same client under another body cap, for answers far smaller than the rest of an
    /// upstream's (Jellyfin's media segments beside its library pages).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// The shared client, for a request that is not a JSON GET (a reachability check).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A header for every request, marked sensitive: it is a credential more often than not
    /// (Jellyfin's `Authorization`, TMDB's bearer token). A value a header cannot carry (a
    /// key pasted with a line break) is refused here, at startup, not at every request.
    pub fn with_header(
        mut self,
        name: HeaderName,
        value: &str,
    ) -> Result<Self, reqwest::header::InvalidHeaderValue> {
        let mut value = HeaderValue::from_str(value)?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        Ok(self)
    }

    /// The answer to a GET of `url`, whatever its status, for the caller to classify.
    pub async fn get(&self, url: &Url, deadline: Instant) -> Result<Answer, JsonError> {
        if deadline.saturating_duration_since(Instant::now()).is_zero() {
            return Err(JsonError::BudgetSpent);
        }
        let response = retry::send(&self.retry, deadline, || {
            self.http.get(url.clone()).headers(self.headers.clone())
        })
        .await
        .map_err(JsonError::from_send)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = if status.is_redirection() {
            Bytes::new()
        } else {
            read_body_limited(response, self.max_body)
                .await
                .map_err(|e| JsonError::from_body(e, self.max_body))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// Upstream text fit to quote in a message: the queries of the URLs it holds are cut (an
/// upstream's error may quote its own upstream's URL, key included), and it is capped.
pub fn quote(text: &str) -> String {
    /// Enough for any error sentence; an upstream's text is not a document.
    const MAX_QUOTE: usize = 300;
    let mut out = String::with_capacity(text.len().min(MAX_QUOTE));
    let mut rest = text;
    while let Some(at) = find_url(rest) {
        out.push_str(&rest[..at]);
        let url = &rest[at..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.find(['?', '#']) {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?…");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    crate::models::cap_text(&mut out, MAX_QUOTE);
    out
}

fn find_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &str = "s3cr3t-k3y-0b1d";

    fn client(max_body: usize) -> JsonClient {
        // As `upstream::build_client`'s: redirects are the caller's.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        JsonClient::new(http, max_body).with_retry(RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        })
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// Every text an error offers: its message, its chain and its debug form.
    fn all_text(e: &JsonError) -> String {
        let mut text = format!("{e} {e:?}");
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
        while let Some(c) = cur {
            text.push_str(&format!(" {c} {c:?}"));
            cur = c.source();
        }
        text
    }

    #[test]
    fn a_base_url_keeps_its_path_prefix() {
        let base = BaseUrl::parse("http://host:3000/consumet").unwrap();
        assert_eq!(
            base.join("meta/tmdb/info/1", &[("type", "movie")]).as_str(),
            "http://host:3000/consumet/meta/tmdb/info/1?type=movie"
        );
        assert!(BaseUrl::parse("not a url").is_err());
    }

    #[test]
    fn a_credential_a_header_cannot_carry_is_refused_when_configured() {
        let pasted = "key\nwith a line break";
        assert!(
            client(1)
                .with_header(reqwest::header::AUTHORIZATION, pasted)
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_answer_comes_back_with_its_status_headers_and_json() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/a"))
            .and(header("accept", "application/json"))
            .and(header("authorization", "Bearer t"))
            .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({"x": 1})))
            .expect(1)
            .mount(&server)
            .await;
        let client = client(1024)
            .with_header(reqwest::header::AUTHORIZATION, "Bearer t")
            .unwrap();
        let url = Url::parse(&format!("{}/a", server.uri())).unwrap();

        let answer = client.get(&url, soon()).await.unwrap();

        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "the caller classifies"
        );
        assert_eq!(answer.json::<serde_json::Value>().unwrap()["x"], 1);
    }

    /// A server answering each `(path, answer)` pair.
    async fn serving(routes: Vec<(&str, ResponseTemplate)>) -> MockServer {
        let server = MockServer::start().await;
        for (p, answer) in routes {
            Mock::given(path(p))
                .respond_with(answer)
                .mount(&server)
                .await;
        }
        server
    }

    fn at(server: &MockServer, p: &str) -> Url {
        Url::parse(&format!("{}{p}", server.uri())).unwrap()
    }

    #[tokio::test]
    async fn a_spent_budget_sends_nothing() {
        let server = serving(vec![("/", ResponseTemplate::new(200))]).await;

        let spent = client(1024).get(&at(&server, "/"), Instant::now()).await;

        assert_eq!(spent.unwrap_err().code(), "upstream_budget_spent");
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused_and_a_redirect_body_is_not_read() {
        let redirect = ResponseTemplate::new(302)
            .insert_header("location", "/elsewhere?t=1")
            .set_body_string("x".repeat(2048));
        let server = serving(vec![
            (
                "/big",
                ResponseTemplate::new(200).set_body_string("x".repeat(2048)),
            ),
            ("/moved", redirect),
        ])
        .await;

        let big = client(1024).get(&at(&server, "/big"), soon()).await;
        assert_eq!(big.unwrap_err().code(), "upstream_too_large");

        let moved = client(1024)
            .get(&at(&server, "/moved"), soon())
            .await
            .unwrap();
        assert_eq!(moved.location(), Some("/elsewhere?t=1"));
        assert_eq!(moved.location_shown().as_deref(), Some("/elsewhere"));
        assert!(moved.body.is_empty());
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_timeout_within_the_deadline() {
        let slow = ResponseTemplate::new(200).set_delay(Duration::from_secs(30));
        let server = serving(vec![("/", slow)]).await;

        let e = client(1024)
            .get(
                &at(&server, "/"),
                Instant::now() + Duration::from_millis(300),
            )
            .await
            .unwrap_err();

        assert_eq!(e.code(), "upstream_timeout");
    }

    #[tokio::test]
    async fn no_error_carries_the_query_of_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/x?api_key={SECRET}")).unwrap();

        let e = client(1024).get(&url, soon()).await.unwrap_err();

        assert_eq!(e.code(), "upstream_unreachable");
        assert!(std::error::Error::source(&e).is_some(), "the cause is kept");
        let text = all_text(&e);
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn quoted_upstream_text_loses_the_queries_of_its_urls() {
        let text = format!(
            "Request to https://api.themoviedb.org/3/movie/1?api_key={SECRET}&x=1 failed; \"http://b.example/p#{SECRET}\""
        );
        let quoted = quote(&text);
        assert!(!quoted.contains(SECRET), "{quoted}");
        assert!(
            quoted.starts_with("Request to https://api.themoviedb.org/3/movie/1?… failed"),
            "{quoted}"
        );
        assert_eq!(quote("no url here"), "no url here");
        assert!(quote(&"y".repeat(5000)).chars().count() <= 300);
    }
}
