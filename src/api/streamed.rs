//! A reply body written as it is produced: the pieces come from a channel that a task fills
//! (a job's zip), so that a large body is never held whole. A piece that is an error ends the
//! response short: the connection is closed without the final chunk, and the client sees a
//! truncated body rather than a complete-looking one.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// One piece of a streamed body, or why it stops.
pub type Piece = Result<Bytes, std::io::Error>;

/// The channel of a streamed reply, taken once by the server.
#[derive(Clone)]
pub struct Streamed(Arc<Mutex<Option<mpsc::Receiver<Piece>>>>);

impl Streamed {
    pub fn new(pieces: mpsc::Receiver<Piece>) -> Streamed {
        Streamed(Arc::new(Mutex::new(Some(pieces))))
    }

    fn take(&self) -> Option<mpsc::Receiver<Piece>> {
        self.0.lock().expect("streamed body").take()
    }
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streamed")
    }
}

/// The body the server writes: whole, or streamed.
pub enum ReplyBody {
    Whole(Option<Bytes>),
    Stream(mpsc::Receiver<Piece>),
}

impl ReplyBody {
    /// `body`, unless the reply streams.
    pub fn of(body: Bytes, stream: Option<Streamed>) -> ReplyBody {
        match stream.and_then(|s| s.take()) {
            Some(pieces) => ReplyBody::Stream(pieces),
            None => ReplyBody::Whole(Some(body)),
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            ReplyBody::Whole(body) => Poll::Ready(
                body.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            ReplyBody::Stream(pieces) => pieces
                .poll_recv(cx)
                .map(|piece| piece.map(|p| p.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Whole(None))
            || matches!(self, ReplyBody::Whole(Some(b)) if b.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Whole(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ReplyBody::Whole(None) => SizeHint::with_exact(0),
            ReplyBody::Stream(_) => SizeHint::default(),
        }
    }
}
