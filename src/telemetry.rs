//! Logging setup and the per-request span.
//!
//! Values from outside (provider and addon names, titles, upstream error texts, hosts, paths)
//! reach log fields, and a newline or an ANSI escape in one would forge a log line or repaint
//! the operator's terminal. Rather than trusting every log site to remember, the pretty format
//! writes every field and message through [`Untrusted`]; the JSON format's string escaping
//! already covers both.

use std::fmt::{self, Write as _};

use axum::extract::MatchedPath;
use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{FmtSpan, Writer};

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over the configured filter when set.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.fmt_fields(escaping_fields()).try_init(),
    };
}

/// The pretty format's fields (`name=value`, the message bare) with control characters
/// escaped (see [`Untrusted`]).
pub fn escaping_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer: &mut Writer<'_>, field, value| {
        if field.name() != "message" {
            write!(writer, "{}=", field.name())?;
        }
        write!(Escaping(writer), "{value:?}")
    })
    .delimited(" ")
}

/// Shows a string from outside with its control characters escaped (`\n`, `\u{1b}`…) and
/// bidirectional overrides too (they reorder what a terminal shows). Everything else, other
/// scripts included, is shown as is.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaping(f).write_str(self.0)
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        fmt::Display::fmt(self, f)?;
        f.write_char('"')
    }
}

/// A `fmt::Write` that escapes what [`Untrusted`] escapes on its way through.
struct Escaping<W>(W);

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        for (at, c) in s.char_indices() {
            if needs_escape(c) {
                self.0.write_str(&s[clean..at])?;
                for e in c.escape_default() {
                    self.0.write_char(e)?;
                }
                clean = at + c.len_utf8();
            }
        }
        self.0.write_str(&s[clean..])
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The span of one HTTP request. It records the route template, never the URI: a proxy URL's
/// query is a signed credential and must not reach the logs.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    if route == "/healthz" {
        tracing::debug_span!("request", method = %request.method(), route)
    } else {
        tracing::info_span!("request", method = %request.method(), route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped() {
        let shown = Untrusted("Addon\n2026-01-01 INFO forged\x1b[31m red\u{202e}txt").to_string();
        assert_eq!(
            shown,
            "Addon\\n2026-01-01 INFO forged\\u{1b}[31m red\\u{202e}txt"
        );
        assert_eq!(Untrusted("Café 東京 ok").to_string(), "Café 東京 ok");
        assert_eq!(format!("{:?}", Untrusted("a\tb")), "\"a\\tb\"");
    }

    #[test]
    fn every_field_of_a_pretty_log_line_is_escaped() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(escaping_fields())
            .with_writer(move || writer.clone())
            .finish();
        let name = "Evil\n2026-01-01T00:00:00Z  INFO sokoul: forged\x1b[31m";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("provider", provider = %name);
            let _in = span.enter();
            tracing::warn!(addon = %name, debug = ?name, "addon {name} failed");
        });
        let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.matches('\n').count(), 1, "one record, one line: {log}");
        assert!(!log.contains('\x1b'), "{log}");
        assert!(log.contains("addon=Evil\\n2026"), "{log}");
    }
}
