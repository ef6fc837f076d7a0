//! The built-in bounded and unbounded kinds: a tokio channel, the floor the benchmarks
//! measure against. They keep a path of their own (no trait object, no lock: a tell is one
//! channel push) rather than going through [`Mailbox`](super::Mailbox), whose `pop` takes
//! `&self` and so would need a lock or a padded multi-consumer queue per actor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context as TaskContext, Poll};

use atomic_waker::AtomicWaker;
use tokio::sync::mpsc;

use super::{Letter, MailboxConfig};
use crate::error::TellError;

/// A tokio channel, bounded or not.
enum Tx<M> {
    Bounded(mpsc::Sender<Letter<M>>),
    Unbounded(mpsc::UnboundedSender<Letter<M>>),
}

enum Rx<M> {
    Bounded(mpsc::Receiver<Letter<M>>),
    Unbounded(mpsc::UnboundedReceiver<Letter<M>>),
}

/// A lane's channel is made by its first send, not at spawn: most of its bytes (a
/// 512-byte channel and a first block of 32 letters) are then never spent on an actor
/// that is never sent anything. Until the actor's task takes the receiver, it waits here.
struct Handoff<M> {
    config: MailboxConfig,
    /// The receiver closed before any channel was made: none will be. Set under `rx`.
    closed: AtomicBool,
    /// The actor's task, waiting for the channel to be made.
    waker: AtomicWaker,
    rx: Mutex<Option<Rx<M>>>,
}

impl<M> Handoff<M> {
    fn rx(&self) -> MutexGuard<'_, Option<Rx<M>>> {
        // Every update under the lock is one assignment: a panic cannot leave it torn.
        self.rx.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half of a channel lane.
pub(crate) struct ChannelTx<M> {
    tx: OnceLock<Tx<M>>,
    handoff: Arc<Handoff<M>>,
}

/// The receiving half of a channel lane, owned by the actor's task.
pub(crate) struct ChannelRx<M> {
    rx: Option<Rx<M>>,
    handoff: Arc<Handoff<M>>,
}

pub(crate) fn lane<M>(config: MailboxConfig) -> (ChannelTx<M>, ChannelRx<M>) {
    let handoff = Arc::new(Handoff {
        config,
        closed: AtomicBool::new(false),
        waker: AtomicWaker::new(),
        rx: Mutex::new(None),
    });
    let tx = ChannelTx {
        tx: OnceLock::new(),
        handoff: Arc::clone(&handoff),
    };
    (tx, ChannelRx { rx: None, handoff })
}

fn full_or_dead<M>(e: mpsc::error::TrySendError<Letter<M>>) -> TellError<Letter<M>> {
    match e {
        mpsc::error::TrySendError::Full(m) => TellError::Full(m),
        mpsc::error::TrySendError::Closed(m) => TellError::Dead(m),
    }
}

impl<M> ChannelTx<M> {
    /// The channel, made now if this is the first send; `None` when the receiver closed
    /// before any was made.
    #[inline]
    fn tx(&self) -> Option<&Tx<M>> {
        match self.tx.get() {
            Some(tx) => Some(tx),
            None => self.make(),
        }
    }

    #[cold]
    #[inline(never)]
    fn make(&self) -> Option<&Tx<M>> {
        let mut slot = self.handoff.rx();
        if let Some(tx) = self.tx.get() {
            return Some(tx);
        }
        if self.handoff.closed.load(Ordering::Relaxed) {
            return None;
        }
        let (tx, rx) = match self.handoff.config {
            MailboxConfig::Bounded(cap) => {
                let (tx, rx) = mpsc::channel(cap.max(1));
                (Tx::Bounded(tx), Rx::Bounded(rx))
            }
            MailboxConfig::Unbounded => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Tx::Unbounded(tx), Rx::Unbounded(rx))
            }
        };
        *slot = Some(rx);
        // Under the lock: no other sender makes one meanwhile.
        let tx = self.tx.get_or_init(|| tx);
        drop(slot);
        // The task takes the receiver; the letter this send is about to push then
        // wakes it through the channel, if it has not seen it already.
        self.handoff.waker.wake();
        Some(tx)
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self.tx.get() {
            Some(Tx::Bounded(tx)) => tx.is_closed(),
            Some(Tx::Unbounded(tx)) => tx.is_closed(),
            None => self.handoff.closed.load(Ordering::Acquire),
        }
    }

    /// Waits for room on a bounded lane.
    pub(crate) async fn send(&self, letter: Letter<M>) -> Result<(), Letter<M>> {
        match self.tx() {
            Some(Tx::Bounded(tx)) => tx.send(letter).await.map_err(|e| e.0),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| e.0),
            None => Err(letter),
        }
    }

    /// The common case (a channel that exists) is inlined into the send path; the first
    /// send, which makes it, is not.
    #[inline]
    pub(crate) fn try_send(&self, letter: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        match self.tx.get() {
            Some(Tx::Bounded(tx)) => tx.try_send(letter).map_err(full_or_dead),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| TellError::Dead(e.0)),
            None => self.try_send_other(letter),
        }
    }

    #[cold]
    #[inline(never)]
    fn try_send_other(&self, letter: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        match self.tx() {
            Some(Tx::Bounded(tx)) => tx.try_send(letter).map_err(full_or_dead),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| TellError::Dead(e.0)),
            None => Err(TellError::Dead(letter)),
        }
    }
}

impl<M> Rx<M> {
    fn len(&self) -> usize {
        match self {
            Rx::Bounded(rx) => rx.len(),
            Rx::Unbounded(rx) => rx.len(),
        }
    }

    fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Letter<M>>,
        limit: usize,
    ) -> Poll<usize> {
        match self {
            Rx::Bounded(rx) => rx.poll_recv_many(cx, buf, limit),
            Rx::Unbounded(rx) => rx.poll_recv_many(cx, buf, limit),
        }
    }

    fn close(&mut self) {
        match self {
            Rx::Bounded(rx) => rx.close(),
            Rx::Unbounded(rx) => rx.close(),
        }
    }

    fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        match self {
            Rx::Bounded(rx) => rx.poll_recv(cx),
            Rx::Unbounded(rx) => rx.poll_recv(cx),
        }
    }
}

impl<M> ChannelRx<M> {
    /// The channel's receiver, once a send has made it.
    fn take(&mut self) -> Option<&mut Rx<M>> {
        if self.rx.is_none() {
            self.rx = self.handoff.rx().take();
        }
        self.rx.as_mut()
    }

    /// Until the first send: waits for it, or `true` when the lane is closed (and empty).
    #[cold]
    #[inline(never)]
    fn poll_made(&mut self, cx: &mut TaskContext<'_>) -> Poll<bool> {
        self.handoff.waker.register(cx.waker());
        if self.take().is_some() {
            return Poll::Ready(false);
        }
        if self.handoff.closed.load(Ordering::Acquire) {
            return Poll::Ready(true);
        }
        Poll::Pending
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.rx.as_ref().map_or(0, Rx::len)
    }

    /// Takes up to `limit` letters into `buf`; `Ready(0)` means closed and empty.
    #[inline]
    pub(crate) fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Letter<M>>,
        limit: usize,
    ) -> Poll<usize> {
        if let Some(rx) = &mut self.rx {
            return rx.poll_recv_many(cx, buf, limit);
        }
        match self.poll_made(cx) {
            Poll::Ready(false) => match &mut self.rx {
                Some(rx) => rx.poll_recv_many(cx, buf, limit),
                None => Poll::Ready(0),
            },
            Poll::Ready(true) => Poll::Ready(0),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        {
            let mut slot = self.handoff.rx();
            if self.rx.is_none() {
                self.rx = slot.take();
            }
            // Under the lock: a first send either made the channel (closed below) or
            // will find the lane closed.
            if self.rx.is_none() {
                self.handoff.closed.store(true, Ordering::Release);
            }
        }
        if let Some(rx) = &mut self.rx {
            rx.close();
        }
    }

    /// The next letter; `Ready(None)` once the lane is closed and empty. After
    /// [`close`](ChannelRx::close) this also waits for a send that was admitted before
    /// the close but had not yet landed.
    pub(crate) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        if self.rx.is_none() {
            match self.poll_made(cx) {
                Poll::Ready(true) => return Poll::Ready(None),
                Poll::Ready(false) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
        match &mut self.rx {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}
