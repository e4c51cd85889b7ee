//! Retries of providers' idempotent requests (Consumet, Stremio addons, Jellyfin, TMDB).
//!
//! A retry happens only where it cannot do harm or waste the caller's time:
//! - only for idempotent methods (every provider call is a GET);
//! - only before the body is read: [`send`] returns as soon as the headers are in, so a body
//!   already partly consumed is never fetched again (a reset in the middle of a body is the
//!   caller's error to report);
//! - only for faults that a second attempt can fix: a connection that could not be made or
//!   was reset before the answer, 502/503/504, and 429 (after its `Retry-After` when that is
//!   short enough); never another 4xx, never a timeout (each attempt already gets all the
//!   time that is left);
//! - never past the caller's deadline: a retry starts only if its backoff plus a minimal
//!   attempt still fit, otherwise the last answer (a 503 the caller classifies as usual) or
//!   error is returned at once.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::config::ResilienceSettings;

/// An attempt is not started with less time than this left before the deadline.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 = no retry.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited for; a longer one ends the retries.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::from_settings(&ResilienceSettings::default())
    }
}

impl RetryPolicy {
    pub fn from_settings(settings: &ResilienceSettings) -> Self {
        RetryPolicy {
            attempts: settings.retry_attempts.max(1),
            initial_backoff: Duration::from_secs_f64(settings.retry_initial_backoff),
            max_backoff: Duration::from_secs_f64(settings.retry_max_backoff),
            max_retry_after: Duration::from_secs(5),
        }
    }

    /// One attempt only.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Exponential backoff with "equal jitter": half of the step is fixed, half random, so
    /// callers that failed together do not retry together, yet every wait grows.
    fn backoff(&self, retry: u32) -> Duration {
        let step = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.max_backoff);
        let half = step / 2;
        let jitter = rand::thread_rng().gen_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }
}

/// Sends the request `build` makes, again when the answer or error is worth a retry.
///
/// `build` is called once per attempt; [`send`] sets the attempt's timeout to the time left
/// before `deadline`. The result is the last attempt's: a response (whatever its status) or
/// the transport error, for the caller to classify as it would a single attempt.
pub async fn send(
    policy: &RetryPolicy,
    deadline: Instant,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut attempt = 1u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (client, request) = build().timeout(left).build_split();
        let request = request?;
        let idempotent = request.method().is_idempotent();
        let result = client.execute(request).await;
        let wait = match &result {
            Ok(response) => match retry_wait(policy, response.status(), response.headers()) {
                Retry::After(wait) => wait,
                Retry::AfterBackoff => policy.backoff(attempt),
                Retry::No => return result,
            },
            Err(e) if retryable_error(e) => policy.backoff(attempt),
            Err(_) => return result,
        };
        if !idempotent || attempt >= policy.attempts {
            return result;
        }
        if Instant::now() + wait + MIN_ATTEMPT >= deadline {
            tracing::debug!(
                attempt,
                "no time left for another attempt before the deadline"
            );
            return result;
        }
        tracing::debug!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            status = result.as_ref().ok().map(|r| r.status().as_u16()),
            "retrying an upstream request"
        );
        // The answer being retried is dropped unread: nothing of it reached the caller.
        drop(result);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Whether an answer is retried, and after how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    No,
    /// After the policy's backoff.
    AfterBackoff,
    /// After the upstream's own `Retry-After`.
    After(Duration),
}

fn retry_wait(policy: &RetryPolicy, status: StatusCode, headers: &HeaderMap) -> Retry {
    match status.as_u16() {
        502 | 504 => Retry::AfterBackoff,
        429 | 503 => match retry_after(headers) {
            // A server that asks for a long pause is not retried within one resolve.
            Some(wait) if wait > policy.max_retry_after => Retry::No,
            Some(wait) => Retry::After(wait),
            None => Retry::AfterBackoff,
        },
        _ => Retry::No,
    }
}

/// Connection refused or reset before the answer. Not a timeout (the attempt had all the
/// time left), not the SSRF guard's refusal (it will refuse again).
fn retryable_error(e: &reqwest::Error) -> bool {
    if e.is_timeout() || crate::upstream::guard::is_refusal(e) {
        return false;
    }
    if e.is_connect() {
        return true;
    }
    // A reset surfaces as an I/O error in the cause chain; a close before the answer as
    // hyper's `IncompleteMessage`, matched by its text because hyper is not a direct
    // dependency (the test `a_reset_or_a_close_before_the_answer_is_retried` pins it).
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        if c.to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let left = at - time::OffsetDateTime::now_utc();
    Some(left.try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// A server that gives every `verb` request the same answer.
    async fn always(verb: &str, answer: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method(verb))
            .respond_with(answer)
            .mount(&server)
            .await;
        server
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        }
    }

    fn in_secs(s: u64) -> Instant {
        Instant::now() + Duration::from_secs(s)
    }

    #[tokio::test]
    async fn a_503_then_a_200_succeeds_with_two_requests() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let http = reqwest::Client::new();
        let r = send(&fast(), in_secs(10), || http.get(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_404_or_a_500_is_not_retried() {
        for status in [404, 400, 500] {
            let server = always("GET", ResponseTemplate::new(status)).await;
            let http = reqwest::Client::new();
            let r = send(&fast(), in_secs(10), || http.get(server.uri()))
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), status);
            assert_eq!(server.received_requests().await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn retries_stop_after_the_last_attempt_with_its_answer() {
        let server = always("GET", ResponseTemplate::new(502)).await;
        let http = reqwest::Client::new();
        let r = send(&fast(), in_secs(10), || http.get(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 502, "the caller classifies the last answer");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_server_that_always_fails_is_given_up_before_the_deadline() {
        let server = always("GET", ResponseTemplate::new(503)).await;
        let http = reqwest::Client::new();
        let policy = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(5),
        };
        let deadline = Instant::now() + Duration::from_millis(1500);
        let r = send(&policy, deadline, || http.get(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert!(
            Instant::now() < deadline,
            "returned before the deadline, not at or after it"
        );
        let n = server.received_requests().await.unwrap().len();
        assert!((2..10).contains(&n), "{n} attempts");
    }

    #[tokio::test]
    async fn a_short_retry_after_is_honoured_and_a_long_one_ends_the_retries() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let http = reqwest::Client::new();
        let started = Instant::now();
        let r = send(&fast(), in_secs(10), || http.get(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(started.elapsed() >= Duration::from_secs(1), "waited");

        let server = always(
            "GET",
            ResponseTemplate::new(429).insert_header("retry-after", "30"),
        )
        .await;
        let r = send(&fast(), in_secs(60), || http.get(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
        let server = always(
            "GET",
            ResponseTemplate::new(503).insert_header("retry-after", "3"),
        )
        .await;
        let http = reqwest::Client::new();
        let started = Instant::now();
        let r = send(&fast(), Instant::now() + Duration::from_secs(1), || {
            http.get(server.uri())
        })
        .await
        .unwrap();
        assert_eq!(r.status(), 503);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_post_is_never_retried() {
        let server = always("POST", ResponseTemplate::new(503)).await;
        let http = reqwest::Client::new();
        let r = send(&fast(), in_secs(10), || http.post(server.uri()))
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    /// Accepts connections and resets (or, with `graceful`, closes) the first `resets` of
    /// them before answering.
    async fn resetting_server(resets: usize, graceful: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                if n < resets {
                    if !graceful {
                        // A zero linger makes the close a reset; it never blocks.
                        #[allow(deprecated)]
                        let _ = socket.set_linger(Some(Duration::ZERO));
                    }
                    drop(socket);
                } else {
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                }
            }
        });
        (format!("http://{addr}/"), seen)
    }

    #[tokio::test]
    async fn a_reset_or_a_close_before_the_answer_is_retried() {
        for graceful in [false, true] {
            let (url, seen) = resetting_server(1, graceful).await;
            let http = reqwest::Client::new();
            let r = send(&fast(), in_secs(10), || http.get(&url)).await.unwrap();
            assert_eq!(r.text().await.unwrap(), "ok");
            assert_eq!(seen.load(Ordering::SeqCst), 2, "graceful: {graceful}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = reqwest::Client::new();
        let calls = AtomicUsize::new(0);
        let e = send(&fast(), in_secs(10), || {
            calls.fetch_add(1, Ordering::SeqCst);
            http.get(format!("http://127.0.0.1:{port}/"))
        })
        .await
        .unwrap_err();
        assert!(e.is_connect());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn backoff_grows_and_stays_within_its_bounds() {
        let p = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        };
        for _ in 0..100 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
            let tenth = p.backoff(10);
            assert!(tenth >= Duration::from_millis(500) && tenth <= Duration::from_secs(1));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
        let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(120);
        let date = later
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        h.insert(RETRY_AFTER, date.parse().unwrap());
        let got = retry_after(&h).unwrap();
        assert!(got > Duration::from_secs(100) && got <= Duration::from_secs(120));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
