//! A rewritten playlist as an HTTP body, within the rewrite memory budget.
//!
//! The rewrite runs twice for a playlist whose output passes [`OUTPUT_WINDOW`]: a first pass
//! only measures it (so that a rewrite past its limits is still a 502 before any header, and
//! the response has its Content-Length), and a second one produces it piece by piece as the
//! client takes it. A short playlist, the common case, is rewritten once and sent whole.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;
use url::Url;

use super::budget::Reservation;
use super::playlist::{RewriteContext, RewriteError, RewriteState};
use super::token::{SealedContext, Signer};

/// Output a request may hold in flight, reserved with its input: the piece being written,
/// the one waiting in the channel, and what the server's connection buffers (64 KiB cap,
/// `startup.rs`; hyper takes one more piece while under it). Also the size below which a
/// playlist is rewritten once and sent whole: 1,000 segments.
pub const OUTPUT_WINDOW: usize = 4 * PIECE;

/// One piece of streamed output. Measured on the 20,000-segment benchmark: 64 KiB pieces
/// cost nothing over a whole-output rewrite; much smaller ones add a channel hop per line
/// group.
pub const PIECE: usize = 64 * 1024;

/// What a rewrite needs, owned, so that it can outlive the handler.
#[derive(Debug)]
pub struct Owned {
    pub signer: Arc<Signer>,
    pub sealed: SealedContext,
    pub base: Url,
    pub imported: Option<String>,
    pub max_output: usize,
}

impl Owned {
    pub fn ctx(&self) -> RewriteContext<'_> {
        RewriteContext {
            signer: &self.signer,
            sealed: &self.sealed,
            base: &self.base,
            imported: self.imported.as_deref(),
            max_output: self.max_output,
        }
    }
}

/// Output bytes that carry their share of the budget: released when the server has written
/// them and dropped them, not when the body hands them over.
struct Piece {
    data: Vec<u8>,
    _hold: Arc<Reservation>,
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// A bytes buffer holding a reservation for as long as it lives.
pub fn held(data: Vec<u8>, hold: Reservation) -> Bytes {
    Bytes::from_owner(Piece {
        data,
        _hold: Arc::new(hold),
    })
}

/// A rewritten playlist: its body and its length.
#[derive(Debug)]
pub struct Rewritten {
    pub body: Body,
    pub len: u64,
}

/// Rewrites `input` into a body. `hold` covers the input and [`OUTPUT_WINDOW`]; it is given
/// back as the input and the pieces are dropped. A client that takes no piece for `idle`
/// loses its rewrite (its input and its reservation), as a stalled upstream would.
pub async fn rewrite(
    owned: Owned,
    input: Bytes,
    mut hold: Reservation,
    idle: Duration,
) -> Result<Rewritten, RewriteError> {
    let ctx = owned.ctx();
    let start = RewriteState::new(&input, ctx);
    let mut state = start.clone();
    let mut first = Vec::with_capacity(OUTPUT_WINDOW.min(input.len() * 2) + 4096);
    if state.fill(&input, ctx, &mut first, OUTPUT_WINDOW)? {
        let len = first.len() as u64;
        let window = hold.split(first.capacity() as u64);
        drop((hold, input));
        return Ok(Rewritten {
            body: Body::from(held(first, window)),
            len,
        });
    }
    // Measured, not kept: the 32 MiB it may reach is what this module exists not to hold.
    let mut len = first.len();
    let mut scratch = first;
    loop {
        scratch.clear();
        let done = state.fill(&input, ctx, &mut scratch, PIECE)?;
        len += scratch.len();
        if done {
            break;
        }
        // A 120,000-segment playlist takes ~50 ms to measure: let other requests run.
        tokio::task::yield_now().await;
    }
    drop(scratch);
    let window = Arc::new(hold.split(OUTPUT_WINDOW as u64));
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(produce(owned, input, start, hold, window, tx, idle));
    let len = len as u64;
    // Fewer bytes than announced only if the producer gave up on a stalled client: the
    // error makes the server cut the connection rather than end the body early.
    let stream = futures::stream::unfold((rx, 0u64), move |(mut rx, got)| async move {
        match rx.recv().await {
            Some(piece) => {
                let got = got + piece.len() as u64;
                Some((Ok(piece), (rx, got)))
            }
            None if got < len => Some((
                Err(std::io::Error::other("the playlist rewrite stopped early")),
                (rx, len),
            )),
            None => None,
        }
    });
    Ok(Rewritten {
        body: Body::from_stream(stream),
        len,
    })
}

/// The second pass: pieces of at least [`PIECE`] bytes, each sent when the previous one was
/// taken.
async fn produce(
    owned: Owned,
    input: Bytes,
    mut state: RewriteState,
    _input_hold: Reservation,
    window: Arc<Reservation>,
    tx: mpsc::Sender<Bytes>,
    idle: Duration,
) {
    let ctx = owned.ctx();
    loop {
        let mut piece = Vec::with_capacity(PIECE + 4096);
        // The first pass went through the same input and context: an error cannot happen
        // here, and would only end the body early (which the receiver reports).
        let Ok(done) = state.fill(&input, ctx, &mut piece, PIECE) else {
            return;
        };
        let piece = Bytes::from_owner(Piece {
            data: piece,
            _hold: window.clone(),
        });
        match tokio::time::timeout(idle, tx.send(piece)).await {
            Ok(Ok(())) if !done => {}
            Ok(Ok(())) => return,
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!("a client stopped reading a rewritten playlist");
                return;
            }
        }
    }
}
