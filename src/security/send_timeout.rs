//! A send timeout for client connections, like nginx's `send_timeout` (default 60 s): a write
//! that the client's socket has not accepted a single byte of for `security.send_timeout`
//! fails with `TimedOut`, and hyper closes the connection.
//!
//! Why: hyper has no write deadline. A client that stops reading without closing (a zero TCP
//! window) kept its response alive forever, and with it what the response holds until it is
//! dropped: a streamed playlist rewrite its share of the rewrite memory budget
//! (`proxy::budget`), a relayed segment its per-host proxy slot (`proxy::client`). About 256
//! such clients pinned the 64 MiB budget, and every playlist was then 503 `upstream_busy`.
//! Closing the connection drops the response body, which gives the budget and the slot back.
//!
//! Only a write without progress counts: a slow reader that takes a few bytes now and then is
//! never cut, however long its response is.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An IO stream whose writes fail with [`io::ErrorKind::TimedOut`] after `timeout` without
/// progress. Reads are passed through untouched (their deadlines are the header and body
/// timeouts).
#[derive(Debug)]
pub struct SendTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Allocated once per connection, re-armed in place.
    deadline: Pin<Box<Sleep>>,
    /// Whether `deadline` belongs to the write that is pending now.
    armed: bool,
}

impl<S> SendTimeout<S> {
    /// Must be called within a Tokio runtime (it creates a timer).
    pub fn new(inner: S, timeout: Duration) -> Self {
        SendTimeout {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
        }
    }

    /// Progress (or a real error) disarms the deadline; a pending write arms it on its first
    /// `Pending` and fails once it has passed.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.armed = false;
            return poll;
        }
        if !self.armed {
            self.armed = true;
            self.deadline.as_mut().reset(Instant::now() + self.timeout);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client accepted no byte within the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn a_write_the_peer_never_reads_fails_after_the_timeout() {
        let (ours, _peer) = tokio::io::duplex(64);
        let mut stream = SendTimeout::new(ours, TIMEOUT);
        let started = Instant::now();
        let err = stream.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_peer_that_reads_slowly_but_steadily_is_never_cut() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut stream = SendTimeout::new(ours, TIMEOUT);
        const LEN: usize = 2048;
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut piece = [0; 16];
            // 16 bytes every 25 ms: the whole write takes about three timeouts, and each
            // write waits far less than one (on a loaded machine too).
            while got < LEN {
                tokio::time::sleep(Duration::from_millis(25)).await;
                got += peer.read(&mut piece).await.unwrap();
            }
            got
        });
        let started = Instant::now();
        stream.write_all(&[7; LEN]).await.unwrap();
        stream.flush().await.unwrap();
        assert!(started.elapsed() > TIMEOUT, "{:?}", started.elapsed());
        drop(stream);
        assert_eq!(reader.await.unwrap(), LEN);
    }

    #[tokio::test]
    async fn reads_are_not_limited() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut stream = SendTimeout::new(ours, Duration::from_millis(100));
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            peer.write_all(b"late").await.unwrap();
        });
        let mut got = [0; 4];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"late");
        writer.await.unwrap();
    }
}
