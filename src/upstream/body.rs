//! The one bounded read of an upstream body, shared by the providers' JSON answers
//! ([`super::read_body_limited`]) and the proxy's documents (playlists, steering JSON): an
//! upstream cannot make Sokoul buffer an unbounded answer, nor hold a request with a body that
//! arrives one byte at a time.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

/// A body read chunk by chunk.
pub trait Chunks {
    type Error;

    /// The declared length, checked against the cap before any byte is read.
    fn content_length(&self) -> Option<u64>;

    /// The next chunk; `None` at the end.
    fn chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, Self::Error>> + Send;
}

/// Memory the buffer may take, asked for before the buffer grows to it.
pub trait Allowance {
    type Error;

    fn grow(&mut self, bytes: u64) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// No accounting beyond the read's own cap.
#[derive(Debug)]
pub struct Unmetered;

impl Allowance for Unmetered {
    type Error = Infallible;

    async fn grow(&mut self, _bytes: u64) -> Result<(), Infallible> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub max: u64,
    /// Longest wait for one chunk.
    pub idle: Option<Duration>,
    /// The whole read, time spent waiting for the allowance aside (that wait has its own
    /// deadline).
    pub total: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError<S, A> {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the body stopped arriving")]
    Timeout,
    #[error("the body could not be read")]
    Source(#[source] S),
    #[error("no memory is left for the body")]
    Allowance(#[source] A),
}

type Read<C, A> = ReadError<<C as Chunks>::Error, <A as Allowance>::Error>;

/// Reads the rest of `body` after `buf` (bytes already read), refusing more than
/// `limits.max` bytes (a Content-Length is checked first, then the bytes actually received).
/// The buffer grows only within `allowance`.
pub async fn read_bounded<C: Chunks, A: Allowance>(
    body: &mut C,
    mut buf: BytesMut,
    limits: Limits,
    allowance: &mut A,
) -> Result<Bytes, Read<C, A>> {
    let max = limits.max;
    match body.content_length() {
        Some(n) if n > max => return Err(ReadError::TooLarge(max)),
        Some(n) => {
            let n = n.max(buf.len() as u64);
            allowance.grow(n).await.map_err(ReadError::Allowance)?;
            buf.reserve(n as usize - buf.len());
        }
        None => {
            let held = buf.capacity() as u64;
            allowance.grow(held).await.map_err(ReadError::Allowance)?;
        }
    }
    let mut deadline = limits.total.map(|total| Instant::now() + total);
    loop {
        let Some(chunk) = next_chunk::<C, A>(body, limits.idle, deadline).await? else {
            return Ok(buf.freeze());
        };
        let need = buf.len() + chunk.len();
        if need as u64 > max {
            return Err(ReadError::TooLarge(max));
        }
        if need > buf.capacity() {
            // What the buffer grows to (it doubles), allowed before it is allocated.
            let grown = need.max(2 * buf.capacity()).min(max as usize);
            let waited = Instant::now();
            allowance
                .grow(grown as u64)
                .await
                .map_err(ReadError::Allowance)?;
            if let Some(deadline) = &mut deadline {
                *deadline += waited.elapsed();
            }
            buf.reserve(grown - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
}

/// The next chunk, by the idle timeout and the read's deadline, whichever ends first.
async fn next_chunk<C: Chunks, A: Allowance>(
    body: &mut C,
    idle: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<Option<Bytes>, Read<C, A>> {
    let by = match (idle.map(|idle| Instant::now() + idle), deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let chunk = match by {
        Some(by) => tokio::time::timeout_at(by, body.chunk())
            .await
            .map_err(|_| ReadError::Timeout)?,
        None => body.chunk().await,
    };
    chunk.map_err(ReadError::Source)
}

impl Chunks for reqwest::Response {
    type Error = reqwest::Error;

    fn content_length(&self) -> Option<u64> {
        reqwest::Response::content_length(self)
    }

    fn chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, reqwest::Error>> + Send {
        reqwest::Response::chunk(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A body from a list of chunks, or one that never sends its next chunk.
    struct Scripted {
        declared: Option<u64>,
        chunks: VecDeque<&'static [u8]>,
        stall: bool,
    }

    impl Chunks for Scripted {
        type Error = Infallible;

        fn content_length(&self) -> Option<u64> {
            self.declared
        }

        async fn chunk(&mut self) -> Result<Option<Bytes>, Infallible> {
            match self.chunks.pop_front() {
                Some(c) => Ok(Some(Bytes::from_static(c))),
                None if self.stall => std::future::pending().await,
                None => Ok(None),
            }
        }
    }

    /// Records what the read asked for.
    #[derive(Default)]
    struct Recorded(Vec<u64>);

    impl Allowance for Recorded {
        type Error = Infallible;

        async fn grow(&mut self, bytes: u64) -> Result<(), Infallible> {
            self.0.push(bytes);
            Ok(())
        }
    }

    fn body(declared: Option<u64>, chunks: &[&'static [u8]]) -> Scripted {
        Scripted {
            declared,
            chunks: chunks.iter().copied().collect(),
            stall: false,
        }
    }

    const CAP: Limits = Limits {
        max: 8,
        idle: None,
        total: None,
    };

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_after_what_was_already_read() {
        let mut b = body(None, &[b"M3U", b"\n"]);
        let got = read_bounded(&mut b, BytesMut::from(&b"#EXT"[..]), CAP, &mut Unmetered).await;
        assert_eq!(got.unwrap(), Bytes::from_static(b"#EXTM3U\n"));
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_by_its_length_or_its_bytes() {
        let mut declared = body(Some(9), &[b"x"]);
        let got = read_bounded(&mut declared, BytesMut::new(), CAP, &mut Unmetered).await;
        assert!(matches!(got, Err(ReadError::TooLarge(8))));
        let mut undeclared = body(None, &[b"12345", b"6789"]);
        let got = read_bounded(&mut undeclared, BytesMut::new(), CAP, &mut Unmetered).await;
        assert!(matches!(got, Err(ReadError::TooLarge(8))));
    }

    #[tokio::test]
    async fn the_buffer_is_allowed_before_it_grows() {
        let mut allowance = Recorded::default();
        let mut b = body(Some(6), &[b"abc", b"def"]);
        read_bounded(&mut b, BytesMut::new(), CAP, &mut allowance)
            .await
            .unwrap();
        // The declared length is asked for once, up front.
        assert_eq!(allowance.0, [6]);
        let mut allowance = Recorded::default();
        let mut b = body(None, &[b"abc", b"def"]);
        read_bounded(&mut b, BytesMut::new(), CAP, &mut allowance)
            .await
            .unwrap();
        assert_eq!(allowance.0[..2], [0, 3]);
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let mut b = body(None, &[b"abc"]);
        b.stall = true;
        let limits = Limits {
            idle: Some(Duration::from_millis(50)),
            ..CAP
        };
        let got = read_bounded(&mut b, BytesMut::new(), limits, &mut Unmetered).await;
        assert!(matches!(got, Err(ReadError::Timeout)));
    }
}
