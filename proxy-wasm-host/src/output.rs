//! WASI stdout/stderr captured in memory, drained into the host's log after every callback
//! (Envoy logs a filter's stdout at info and stderr at error level).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes a filter may write between two drains; beyond it output is dropped, not a trap, so a
/// chatty filter cannot fill the host's memory nor fail requests by logging.
const MAX_PENDING_BYTES: usize = 1 << 20;

/// A shared in-memory sink: the WASI context writes, the host drains.
#[derive(Clone, Debug, Default)]
pub struct CapturedOutput {
    pending: Arc<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Mutex<Vec<u8>>,
    /// Set (under the lock) when `bytes` may be non-empty: the host drains after every
    /// callback, and filters rarely write, so most drains only read this.
    written: AtomicBool,
}

impl CapturedOutput {
    fn push(&self, bytes: &[u8]) {
        let mut pending = self
            .pending
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let room = MAX_PENDING_BYTES.saturating_sub(pending.len());
        pending.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.pending.written.store(true, Ordering::Release);
    }

    /// Complete lines written so far; a trailing partial line waits for its newline unless
    /// `flush_partial`.
    pub fn take_lines(&self, flush_partial: bool) -> Vec<String> {
        if !self.pending.written.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut pending = self
            .pending
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let complete = if flush_partial {
            pending.len()
        } else {
            pending
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map_or(0, |last_newline| last_newline + 1)
        };
        let taken: Vec<u8> = pending.drain(..complete).collect();
        self.pending
            .written
            .store(!pending.is_empty(), Ordering::Release);
        if taken.is_empty() {
            return Vec::new();
        }
        String::from_utf8_lossy(&taken)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
